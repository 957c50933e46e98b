/** qemu-img style sizes: parse "10G", "512M", "1.5T", "+1G"; print "1 GiB", "196 KiB". */
import { UserError } from "../../base/errors.js";

const UNITS: Record<string, number> = {
  "": 1,
  B: 1,
  K: 2 ** 10,
  M: 2 ** 20,
  G: 2 ** 30,
  T: 2 ** 40,
  P: 2 ** 50,
  E: 2 ** 60,
};

/** Parse a size with an optional K/M/G/T/P/E suffix (binary units, as qemu-img's qemu_strtosz). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bBkKmMgGtTpPeE]?)(?:i?[bB])?$/.exec(text.trim());
  if (!m) throw new UserError(`invalid size '${text}' (use a number with an optional K, M, G or T suffix)`);
  const v = Number.parseFloat(m[1]!) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isFinite(v) || v > Number.MAX_SAFE_INTEGER) throw new UserError(`size '${text}' is too large`);
  if (!Number.isInteger(v)) throw new UserError(`size '${text}' is not a whole number of bytes`);
  return v;
}

/** qemu's size_to_str: at most 3 significant digits, binary units. */
export function formatSize(n: number): string {
  const names = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < names.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} B`;
  const s = v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${s.replace(/\.?0+$/, "")} ${names[i]}`;
}
