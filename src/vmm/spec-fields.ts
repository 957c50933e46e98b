/** Checks shared by the VM specification validators: each raises a FieldError naming the field and the value. */
import { FieldError } from "../base/errors.js";

/** Bound on paths, so a hostile spec cannot make a path or FDT string of unbounded size. */
export const MAX_PATH_LENGTH = 4096;

export function describe(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}...` : v);
  if (Array.isArray(v)) return "an array";
  if (v === null) return "null";
  return typeof v === "object" ? "an object" : String(v);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function checkPath(field: string, v: unknown): string {
  if (typeof v !== "string") throw new FieldError(field, `must be a path (a string), got ${describe(v)}`, v);
  if (v.length === 0) throw new FieldError(field, "must not be empty", v);
  if (v.length > MAX_PATH_LENGTH)
    throw new FieldError(field, `is longer than ${MAX_PATH_LENGTH} characters`, v.length);
  if (v.includes("\0")) throw new FieldError(field, "must not contain a NUL character", v);
  return v;
}

export function checkBool(field: string, v: unknown, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== "boolean") throw new FieldError(field, `must be true or false, got ${describe(v)}`, v);
  return v;
}

export function checkInt(field: string, v: unknown, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== "number" || !Number.isSafeInteger(v))
    throw new FieldError(field, `must be an integer, got ${describe(v)}`, v);
  if (v < min || v > max) throw new FieldError(field, `must be ${min}..${max}, got ${v}`, v);
  return v;
}

export function checkEnum<T extends string>(field: string, v: unknown, allowed: readonly T[], dflt: T): T {
  if (v === undefined) return dflt;
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
    throw new FieldError(field, `must be one of ${allowed.join(", ")}, got ${describe(v)}`, v);
  return v as T;
}

export function checkArray(field: string, v: unknown, max: number): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new FieldError(field, `must be an array, got ${describe(v)}`, v);
  if (v.length > max) throw new FieldError(field, `at most ${max} entries, got ${v.length}`, v.length);
  return v;
}

export function checkKeys(field: string, v: Record<string, unknown>, allowed: Set<string>): void {
  for (const k of Object.keys(v)) {
    if (!allowed.has(k)) throw new FieldError(field === "" ? k : `${field}.${k}`, "unknown field", k);
  }
}
