/** The save/restore contract: every stateful component returns named, versioned plain data. */
import { FieldError } from "./errors.js";

/** Plain data: JSON-compatible values plus typed-array snapshots (copied, never aliased). */
export type StateValue =
  | number
  | string
  | boolean
  | null
  | Uint8Array
  | Int32Array
  | Uint32Array
  | Float64Array
  | StateValue[]
  | { [key: string]: StateValue };

/** A component's saved state: its kind, a format version, and named fields. */
export interface SavedState {
  kind: string;
  version: number;
  [field: string]: StateValue;
}

/** Implemented by every stateful component (hart, device, backend). */
export interface Stateful {
  save(): SavedState;
  restore(state: SavedState): void;
}

/**
 * A saved state that cannot be restored: wrong kind or version, a missing or mistyped field, a value
 * out of range, an array of the wrong size. `component` names the component (`hart1`, `virtio0.queue0`),
 * `field` the field inside it; restore() raises it before it changes anything.
 */
export class StateError extends FieldError {
  constructor(
    readonly component: string,
    readonly stateField: string,
    readonly stateDetail: string,
    value?: unknown,
    /** Whether `component` is a name given by the owner (`hart1`), not just the state's kind. */
    readonly named = false,
  ) {
    super(stateField === "" ? component : `${component}.${stateField}`, stateDetail, value);
    this.name = "StateError";
  }
}

/**
 * Restore a part under its owner's name for it, so errors read `hart1.pc` or `virtio0.queue0.size`:
 * a StateError from inside `fn` gets `name` put in front of its component.
 */
export function restoring<T>(name: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (!(e instanceof StateError)) throw e;
    const component = e.named ? `${name}.${e.component}` : name;
    throw new StateError(component, e.stateField, e.stateDetail, e.value, true);
  }
}

type TypedArrayCtor<T> = { new (n: number): T; readonly name: string };

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (ArrayBuffer.isView(v)) return `a ${v.constructor.name} of ${(v as Uint8Array).length}`;
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}...` : v);
  return typeof v === "object" ? "an object" : String(v);
}

/** True for a SavedState-shaped object (not an array or typed array). */
export function isStateObject(v: unknown): v is SavedState {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v);
}

/**
 * Reads a SavedState as untrusted input: every accessor checks the field's type, range or size and
 * throws a StateError naming the component and field. A restore() reads and checks every field into
 * locals first, calls done() (which also refuses fields it does not know), and only then assigns.
 */
export class StateReader {
  private readonly s: Record<string, unknown>;
  private readonly seen = new Set<string>(["kind", "version"]);

  constructor(
    state: unknown,
    readonly component: string,
    kind: string,
    version: number,
  ) {
    if (!isStateObject(state))
      throw new StateError(component, "", `expected a saved ${kind}, got ${describe(state)}`);
    if (state.kind !== kind)
      throw new StateError(
        component,
        "kind",
        `expected ${JSON.stringify(kind)}, got ${describe(state.kind)}`,
        state.kind,
      );
    if (state.version !== version)
      throw new StateError(
        component,
        "version",
        `${kind} v${version} cannot restore v${describe(state.version)}`,
        state.version,
      );
    this.s = state;
  }

  fail(field: string, detail: string, value?: unknown): never {
    throw new StateError(this.component, field, detail, value);
  }

  private get(field: string): unknown {
    this.seen.add(field);
    if (!Object.hasOwn(this.s, field)) this.fail(field, "missing");
    return this.s[field];
  }

  /** Whether the state has `field` (for optional fields); marks it as known. */
  has(field: string): boolean {
    this.seen.add(field);
    return Object.hasOwn(this.s, field);
  }

  /** A safe integer in min..max. */
  int(field: string, min: number, max: number): number {
    const v = this.get(field);
    if (typeof v !== "number" || !Number.isSafeInteger(v))
      this.fail(field, `expected an integer, got ${describe(v)}`, v);
    if (v < min || v > max) this.fail(field, `must be ${min}..${max}, got ${v}`, v);
    return v;
  }

  /** An unsigned 64-bit value held in a number (exact below 2^53, as guest-written 64-bit addresses are). */
  u64Number(field: string): number {
    const v = this.get(field);
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v >= 2 ** 64)
      this.fail(field, `expected an unsigned 64-bit integer, got ${describe(v)}`, v);
    return v;
  }

  /** An unsigned 32-bit value. */
  u32(field: string): number {
    return this.int(field, 0, 0xffffffff);
  }

  /** A signed 32-bit value (one half of a 64-bit register). */
  i32(field: string): number {
    return this.int(field, -0x80000000, 0x7fffffff);
  }

  /** One of `allowed`. */
  oneOf<T extends number | string>(field: string, allowed: readonly T[]): T {
    const v = this.get(field);
    if (!(allowed as readonly unknown[]).includes(v))
      this.fail(field, `must be one of ${allowed.join(", ")}, got ${describe(v)}`, v);
    return v as T;
  }

  bool(field: string): boolean {
    const v = this.get(field);
    if (typeof v !== "boolean") this.fail(field, `expected true or false, got ${describe(v)}`, v);
    return v;
  }

  string(field: string, maxLength: number): string {
    const v = this.get(field);
    if (typeof v !== "string") this.fail(field, `expected a string, got ${describe(v)}`, v);
    if (v.length > maxLength) this.fail(field, `longer than ${maxLength} characters`, v.length);
    return v;
  }

  /** A typed array of exactly `length` elements, or at most `{ max }`. Returned as is (the caller copies). */
  typed<T extends ArrayLike<number>>(
    field: string,
    ctor: TypedArrayCtor<T>,
    length: number | { max: number },
  ): T {
    const v = this.get(field);
    if (!(v instanceof (ctor as unknown as typeof Uint8Array)))
      this.fail(field, `expected a ${ctor.name}, got ${describe(v)}`, v);
    const n = (v as Uint8Array).length;
    if (typeof length === "number" ? n !== length : n > length.max)
      this.fail(
        field,
        `expected ${typeof length === "number" ? length : `at most ${length.max}`} elements, got ${n}`,
        n,
      );
    return v as unknown as T;
  }

  /** Each element of a typed array in min..max. */
  typedInRange<T extends ArrayLike<number>>(
    field: string,
    ctor: TypedArrayCtor<T>,
    length: number | { max: number },
    min: number,
    max: number,
  ): T {
    const a = this.typed(field, ctor, length);
    for (let i = 0; i < a.length; i++) {
      if (a[i] < min || a[i] > max) this.fail(`${field}[${i}]`, `must be ${min}..${max}, got ${a[i]}`, a[i]);
    }
    return a;
  }

  /** A plain array of exactly `length` (or at most `{ max }`) elements, unchecked inside. */
  array(field: string, length: number | { max: number }): unknown[] {
    const v = this.get(field);
    if (!Array.isArray(v)) this.fail(field, `expected an array, got ${describe(v)}`, v);
    if (typeof length === "number" ? v.length !== length : v.length > length.max)
      this.fail(
        field,
        `expected ${typeof length === "number" ? length : `at most ${length.max}`} entries, got ${v.length}`,
        v.length,
      );
    return v;
  }

  /** An array of `length` integers each in min..max (e.g. a 64-bit value as [lo, hi]). */
  ints(field: string, length: number, min: number, max: number): number[] {
    const a = this.array(field, length);
    return a.map((v, i) => {
      if (typeof v !== "number" || !Number.isSafeInteger(v) || v < min || v > max)
        this.fail(`${field}[${i}]`, `must be an integer in ${min}..${max}, got ${describe(v)}`, v);
      return v;
    });
  }

  /** A nested plain object (not a SavedState with kind/version), for maps such as CSR tables. */
  record(field: string): Record<string, unknown> {
    const v = this.get(field);
    if (!isStateObject(v)) this.fail(field, `expected an object, got ${describe(v)}`, v);
    return v;
  }

  /** A nested component state; its own reader checks kind and version. */
  nested(field: string): unknown {
    return this.get(field);
  }

  /** Refuse fields this version does not define (a mutated or foreign state). */
  done(): void {
    for (const k of Object.keys(this.s)) if (!this.seen.has(k)) this.fail(k, "unknown field");
  }
}

/** Check a saved state's kind and version before restoring it; throws a StateError otherwise. */
export function checkState(state: SavedState, kind: string, version: number): void {
  new StateReader(state, kind, kind, version);
}
