/** Read-only VHD ("vpc") images, fixed and dynamic, per the footer/BAT layout QEMU's block/vpc.c documents. */
import { ImageFormatError } from "../base/errors.js";
import { be16, be32, be64 } from "./bytes.js";
import type { FileHandle } from "./file-handle.js";
import { type Extent, MappedImage } from "./mapped-image.js";

const TYPE_FIXED = 2;
const TYPE_DYNAMIC = 3;
const TYPE_DIFF = 4;
/** QEMU's VHD_MAX_SECTORS: 0xff000000 sectors (about 2 TB). */
const MAX_SECTORS = 0xff000000;

function bad(m: string): ImageFormatError {
  return new ImageFormatError(`vpc: ${m}`);
}

function checksum(f: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 512; i++) if (i < 64 || i >= 68) sum += f[i]!;
  return ~sum >>> 0;
}

export class VhdImage extends MappedImage {
  readonly format = "vpc";

  private constructor(
    file: FileHandle,
    size: number,
    private readonly bat: Uint32Array | null,
    private readonly blockSize: number,
    private readonly bitmapSize: number,
  ) {
    super(file, size);
  }

  static async open(file: FileHandle): Promise<VhdImage> {
    const fileSize = await file.size();
    if (fileSize < 512) throw bad("file is too short for a footer");
    const f = new Uint8Array(512);
    await file.read(0, f);
    if (new TextDecoder().decode(f.subarray(0, 8)) !== "conectix") await file.read(fileSize - 512, f);
    if (new TextDecoder().decode(f.subarray(0, 8)) !== "conectix") throw bad("footer cookie not found");
    if (checksum(f) !== be32(f, 64)) throw bad("footer checksum mismatch");
    const type = be32(f, 60);
    const creator = new TextDecoder().decode(f.subarray(28, 32));
    const currentSize = be64(f, 48, "current_size", bad);
    const cyls = be16(f, 56);
    const heads = f[58]!;
    const spt = f[59]!;
    // QEMU's rule (vpc_open): size from CHS geometry, except for creators known to use current_size.
    const useCurrent =
      ["qem2", "win ", "d2v ", "tap\0", "CTXS"].includes(creator) ||
      (cyls === 65535 && heads === 16 && spt === 255);
    const size = useCurrent ? currentSize : cyls * heads * spt * 512;
    if (size / 512 > MAX_SECTORS) throw bad(`disk size ${size} is too large`);
    if (type === TYPE_FIXED) {
      if (size > fileSize - 512) throw bad("fixed image is shorter than its disk size");
      return new VhdImage(file, size, null, 0, 0);
    }
    if (type === TYPE_DIFF) throw bad("differencing VHD images are not supported");
    if (type !== TYPE_DYNAMIC) throw bad(`unknown disk type ${type}`);
    const dynOff = be64(f, 16, "data_offset", bad);
    if (dynOff + 1024 > fileSize) throw bad("dynamic header lies past the end of the file");
    const d = new Uint8Array(1024);
    await file.read(dynOff, d);
    if (new TextDecoder().decode(d.subarray(0, 8)) !== "cxsparse")
      throw bad("dynamic header cookie not found");
    const tableOff = be64(d, 16, "table_offset", bad);
    const entries = be32(d, 28);
    const blockSize = be32(d, 32);
    if (blockSize < 512 || blockSize & (blockSize - 1) || blockSize > 256 << 20)
      throw bad(`invalid block size ${blockSize}`);
    if (entries > MAX_SECTORS / (blockSize / 512) + 1 || entries * blockSize < size) {
      throw bad(`block table size ${entries} does not match the disk size`);
    }
    if (tableOff + entries * 4 > fileSize) throw bad("block table lies past the end of the file");
    const raw = new Uint8Array(entries * 4);
    await file.read(tableOff, raw);
    const bat = new Uint32Array(entries);
    const bitmapSize = Math.ceil(blockSize / 512 / 8 / 512) * 512;
    for (let i = 0; i < entries; i++) {
      const e = be32(raw, 4 * i);
      if (e !== 0xffffffff && e * 512 + bitmapSize + blockSize > fileSize) {
        throw bad(`block table entry ${i} points past the end of the file`);
      }
      bat[i] = e;
    }
    return new VhdImage(file, size, bat, blockSize, bitmapSize);
  }

  protected async lookup(g: number, maxLen: number): Promise<Extent> {
    if (!this.bat) return { host: g, length: maxLen };
    const idx = Math.floor(g / this.blockSize);
    const inBlock = g % this.blockSize;
    const length = Math.min(maxLen, this.blockSize - inBlock);
    const e = this.bat[idx]!;
    if (e === 0xffffffff) return { zero: true, length };
    return { host: e * 512 + this.bitmapSize + inBlock, length };
  }
}
