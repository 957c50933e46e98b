/** The storage layer's host in a browser: the disks the page handed over, and deflate from fflate. */
import { deflateSync, inflateSync, unzlibSync } from "fflate";
import { UserError } from "../base/errors.js";
import type { DeflateCodec, StorageHost } from "../storage/file-handle.js";
import type { OverlayFile } from "./overlay-file.js";

/** qcow2 compressed clusters (raw deflate, RFC 1951) and VMDK grains (zlib, RFC 1950), synchronously as the codec contract asks. */
const codec: DeflateCodec = {
  deflateRaw(data, maxLength) {
    const out = deflateSync(data);
    return out.length < maxLength ? out : null;
  },
  inflateRaw(data, outLength) {
    const out = new Uint8Array(outLength);
    const got = inflateSync(data, { out });
    if (got.length !== outLength)
      throw new UserError(`compressed data inflates to ${got.length} bytes, not ${outLength}`);
    return got;
  },
  inflateZlib(data, outLength) {
    const out = new Uint8Array(outLength);
    const got = unzlibSync(data, { out });
    if (got.length !== outLength)
      throw new UserError(`compressed data inflates to ${got.length} bytes, not ${outLength}`);
    return got;
  },
};

export function browserStorage(files: Map<string, OverlayFile>): StorageHost {
  return {
    open: async (path) => {
      const f = files.get(path);
      // Backing files named inside an image cannot be fetched from the page: only the disks handed over.
      if (!f) throw new UserError(`${path}: not available in the browser (only the picked disk is)`);
      return f;
    },
    create: async (path) => {
      throw new UserError(`${path}: creating files is not possible in the browser`);
    },
    resolveRelative: (_image, name) => name,
    deflate: codec,
  };
}
