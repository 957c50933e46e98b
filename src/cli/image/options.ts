/** Parsing qemu-img's `-o key=value,...` creation options into qcow2 create options. */
import { UserError } from "../../base/errors.js";
import type { CreateImageOptions } from "../../storage/node/create-image.js";
import { parseSize } from "./size.js";

export function parseCreateOptions(text: string | undefined, into: CreateImageOptions): void {
  if (!text) return;
  for (const part of text.split(",")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    const val = eq < 0 ? "on" : part.slice(eq + 1);
    switch (key) {
      case "cluster_size":
        into.clusterSize = parseSize(val);
        break;
      case "compat":
        if (val === "0.10" || val === "v2") into.version = 2;
        else if (val === "1.1" || val === "v3") into.version = 3;
        else throw new UserError(`invalid compat '${val}' (0.10 or 1.1)`);
        break;
      case "refcount_bits":
        into.refcountBits = Number.parseInt(val, 10);
        break;
      case "lazy_refcounts":
        into.lazyRefcounts = val === "on" || val === "true";
        break;
      case "compression_type":
        if (val === "zlib") into.compressionType = 0;
        else if (val === "zstd") into.compressionType = 1;
        else throw new UserError(`invalid compression_type '${val}' (zlib or zstd)`);
        break;
      case "backing_file":
        into.backingFile = val;
        break;
      case "backing_fmt":
        into.backingFormat = val;
        break;
      case "size":
        into.size = parseSize(val);
        break;
      case "preallocation":
        if (val !== "off") throw new UserError("only preallocation=off is supported");
        break;
      default:
        throw new UserError(`unknown option '${key}'`);
    }
  }
}
