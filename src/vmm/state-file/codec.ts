/**
 * Component states as bytes: JSON, with typed arrays as `{"$typed": "u8"|"i32"|"u32"|"f64", "base64": ...}`
 * (little-endian elements). Decoding is for untrusted input: it is bounded in size and nesting, refuses
 * malformed typed arrays and prototype-polluting keys, and returns plain data only.
 */
import type { StateValue } from "../../base/state.js";
import { StateFileError } from "./errors.js";

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = (() => {
  const t = new Int16Array(128).fill(-1);
  for (let i = 0; i < 64; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/** Bytes per btoa call: a multiple of 3, so the pieces join without inner padding. */
const B64_PIECE = 3 * 8192;

/**
 * RFC 4648 base64 with padding, through the platform's btoa (WHATWG HTML "forgiving-base64 encode";
 * Node and browsers) on binary strings of a few KiB: a per-byte JS loop took ~1 µs a byte, which a
 * 1 GiB guest's balloon page map (256 KiB) turned into a third of a second in a snapshot's pause.
 */
export function toBase64(b: Uint8Array): string {
  const out: string[] = [];
  for (let i = 0; i < b.length; i += B64_PIECE) {
    const piece = b.subarray(i, Math.min(b.length, i + B64_PIECE));
    out.push(btoa(String.fromCharCode.apply(null, piece as unknown as number[])));
  }
  return out.join("");
}

/** Strict RFC 4648 base64 decoding; null for anything malformed. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith("==") ? 2 : s.endsWith("=") ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let k = 0; k < 4; k++) {
      const c = s.charCodeAt(i + k);
      const last = i + 4 === s.length;
      if (c === 61 && last && k >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = c < 128 ? B64_INDEX[c] : -1;
      if (v < 0) return null;
      n = (n << 6) | v;
    }
    out[o++] = (n >> 16) & 0xff;
    if (o < out.length) out[o++] = (n >> 8) & 0xff;
    if (o < out.length) out[o++] = n & 0xff;
  }
  return out;
}

type TypedKind = "u8" | "i32" | "u32" | "f64";

function typedKind(v: unknown): TypedKind | null {
  if (v instanceof Uint8Array) return "u8";
  if (v instanceof Int32Array) return "i32";
  if (v instanceof Uint32Array) return "u32";
  if (v instanceof Float64Array) return "f64";
  return null;
}

const ELEMENT_BYTES: Record<TypedKind, number> = { u8: 1, i32: 4, u32: 4, f64: 8 };

/** JSON-ready form of a state value (typed arrays become tagged base64 objects). */
function toJsonValue(v: StateValue): unknown {
  const kind = typedKind(v);
  if (kind !== null) {
    const a = v as Uint8Array;
    // Element bytes are little-endian on every host tvisor runs on (the emulator assumes it too).
    return { $typed: kind, base64: toBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength)) };
  }
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v !== null && typeof v === "object") {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJsonValue(x as StateValue);
    return o;
  }
  if (typeof v === "number" && !Number.isFinite(v)) throw new Error(`state holds a non-finite number ${v}`);
  return v;
}

/** Encode a state value as UTF-8 JSON bytes. */
export function encodeState(v: StateValue): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(toJsonValue(v)));
}

/** Deepest nesting a component state may have (a hart's is 3). */
const MAX_DEPTH = 16;
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

function fromJsonValue(v: unknown, depth: number, at: string): StateValue {
  if (depth > MAX_DEPTH) throw new StateFileError("invalid", `${at}: nested deeper than ${MAX_DEPTH}`);
  if (v === null || typeof v === "number" || typeof v === "string" || typeof v === "boolean") return v;
  if (Array.isArray(v)) return v.map((x, i) => fromJsonValue(x, depth + 1, `${at}[${i}]`));
  if (typeof v !== "object") throw new StateFileError("invalid", `${at}: not plain data`);
  const o = v as Record<string, unknown>;
  if (Object.hasOwn(o, "$typed")) {
    const keys = Object.keys(o);
    const kind = o.$typed;
    if (
      keys.length !== 2 ||
      typeof o.base64 !== "string" ||
      !(typeof kind === "string" && kind in ELEMENT_BYTES)
    )
      throw new StateFileError("invalid", `${at}: malformed typed array`);
    const bytes = fromBase64(o.base64);
    const size = ELEMENT_BYTES[kind as TypedKind];
    if (bytes === null || bytes.length % size !== 0)
      throw new StateFileError("invalid", `${at}: malformed ${kind} array data`);
    switch (kind as TypedKind) {
      case "u8":
        return bytes;
      case "i32":
        return new Int32Array(bytes.buffer, 0, bytes.length / 4);
      case "u32":
        return new Uint32Array(bytes.buffer, 0, bytes.length / 4);
      case "f64":
        return new Float64Array(bytes.buffer, 0, bytes.length / 8);
    }
  }
  const out: { [k: string]: StateValue } = {};
  for (const [k, x] of Object.entries(o)) {
    if (FORBIDDEN_KEYS.has(k))
      throw new StateFileError("invalid", `${at}: forbidden key ${JSON.stringify(k)}`);
    out[k] = fromJsonValue(x, depth + 1, at === "" ? k : `${at}.${k}`);
  }
  return out;
}

/** Decode bytes written by encodeState; malformed input is a StateFileError, never a crash. */
export function decodeState(bytes: Uint8Array, what: string): StateValue {
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch {
    throw new StateFileError("invalid", `${what} is not valid JSON`);
  }
  return fromJsonValue(parsed, 0, what);
}
