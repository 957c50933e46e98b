/** The host gzip decompressor (node:zlib) that kernel, initramfs and firmware loading is given. */
import { gunzip as zlibGunzip } from "node:zlib";
import { errorMessage, UserError } from "../../base/errors.js";
import type { Gunzip } from "../linux-image.js";

/**
 * The most anything may decompress to, whatever the caller asks. Nothing larger fits a guest anyway, and
 * the cap keeps a gzip bomb (a few MiB expanding to many GiB) from exhausting host memory. Callers pass
 * a tighter limit: the guest's RAM size.
 */
export const GUNZIP_MAX_BYTES = 1024 * 1024 * 1024;

/**
 * A decompressor for every member of a gzip stream (RFC 1952), with output capped at `max` bytes (or
 * the caller's `maxBytes`, if smaller). Corrupt data and output over the cap reject with a UserError in
 * words (no flag names: the caller says which file it was). zlib works on its thread pool, so a large
 * stream does not stall the event loop.
 */
export function makeGunzip(max: number): Gunzip {
  return (data, maxBytes) =>
    new Promise((resolve, reject) => {
      const limit = Math.min(max, maxBytes ?? max);
      zlibGunzip(data, { maxOutputLength: limit }, (err, out) => {
        if (err === null) resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
        else if ((err as { code?: string }).code === "ERR_BUFFER_TOO_LARGE")
          reject(new UserError(`gzip data decompresses to more than ${limit} bytes`));
        else reject(new UserError(`gzip data is corrupt (${errorMessage(err)})`));
      });
    });
}

export const nodeGunzip: Gunzip = makeGunzip(GUNZIP_MAX_BYTES);
