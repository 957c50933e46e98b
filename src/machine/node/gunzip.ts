/** The host gzip decompressor (node:zlib) that kernel and initramfs loading is given. */
import { gunzip as zlibGunzip } from "node:zlib";
import type { Gunzip } from "../linux-image.js";

/** Decompress every member of a gzip stream (RFC 1952); rejects on corrupt data. */
export const nodeGunzip: Gunzip = (data) =>
  new Promise((resolve, reject) => {
    zlibGunzip(data, (err, out) => {
      if (err) reject(err);
      else resolve(new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
    });
  });
