/** The host gzip decompressor (node:zlib) that kernel and initramfs loading is given. */
import { gunzip as zlibGunzip } from "node:zlib";
import type { Gunzip } from "../linux-image.js";

/**
 * The most a kernel or initramfs may decompress to. Anything larger cannot fit a guest anyway, and the
 * cap keeps a gzip bomb from exhausting host memory.
 */
export const GUNZIP_MAX_BYTES = 1024 * 1024 * 1024;

/** A decompressor for every member of a gzip stream (RFC 1952); rejects on corrupt data or output over `max`. */
export function makeGunzip(max: number): Gunzip {
  return (data) =>
    new Promise((resolve, reject) => {
      zlibGunzip(data, { maxOutputLength: max }, (err, out) => {
        if (err) reject(err);
        else resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
      });
    });
}

export const nodeGunzip: Gunzip = makeGunzip(GUNZIP_MAX_BYTES);
