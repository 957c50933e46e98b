/** Shared helpers for storage tests: temp dirs, qemu-img, deterministic data and random workloads. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { prngUnit } from "../../src/base/testing.js";
import type { BlockBackend } from "../../src/io/block-backend.js";

export const hasQemuImg = spawnSync("qemu-img", ["--version"]).status === 0;
export const hasQemuIo = spawnSync("qemu-io", ["--version"]).status === 0;

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-storage-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function run(cmd: string, args: string[]): { status: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  return { status: r.status ?? -1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

/** qemu-img, throwing unless the exit status is in ok. */
export function qemuImg(args: string[], ok: number[] = [0]): string {
  const r = run("qemu-img", args);
  if (!ok.includes(r.status)) throw new Error(`qemu-img ${args.join(" ")} -> ${r.status}\n${r.out}`);
  return r.out;
}

/** Test content: random, zero and highly compressible regions mixed, in 64 KiB stripes. */
export function patternData(size: number, seed: number): Uint8Array {
  const r = prngUnit(seed);
  const b = new Uint8Array(size);
  const stripe = 65536;
  for (let off = 0; off < size; off += stripe) {
    const kind = Math.floor(r() * 4);
    const end = Math.min(size, off + stripe);
    if (kind === 0) continue;
    if (kind === 1) for (let i = off; i < end; i++) b[i] = (r() * 256) | 0;
    else if (kind === 2) for (let i = off; i < end; i++) b[i] = (i * 7 + seed) & 0x3f;
    else for (let i = off; i < end; i += 4096) b[i] = seed & 0xff;
  }
  return b;
}

export function writeRaw(path: string, data: Uint8Array): void {
  writeFileSync(path, data);
}

/** Random writes, zeroings and discards applied to img and mirrored into ref. */
export async function randomOps(
  img: BlockBackend,
  ref: Uint8Array,
  seed: number,
  count: number,
): Promise<void> {
  const r = prngUnit(seed);
  for (let i = 0; i < count; i++) {
    const op = r();
    const aligned = r() < 0.7;
    let off = Math.floor(r() * ref.length);
    let len = Math.max(1, Math.floor(r() * r() * 300000));
    if (aligned) {
      off -= off % 512;
      len = Math.max(512, len - (len % 512));
    }
    len = Math.min(len, ref.length - off);
    if (len <= 0) continue;
    if (op < 0.75) {
      const d = new Uint8Array(len);
      for (let j = 0; j < len; j += 97) d[j] = (r() * 255 + 1) | 0;
      await img.write(off, d);
      ref.set(d, off);
    } else if (op < 0.9) {
      await img.writeZeroes(off, len);
      ref.fill(0, off, off + len);
    } else {
      await img.discard(off, len);
      ref.fill(0, off, off + len);
    }
  }
}

export async function readAll(img: BlockBackend): Promise<Uint8Array> {
  const b = new Uint8Array(img.size);
  await img.read(0, b);
  return b;
}

export function firstDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}
