/** Read-only VirtualBox VDI images (dynamic and static), per the header layout QEMU's block/vdi.c documents. */
import { ImageFormatError } from "../base/errors.js";
import { le32, le64 } from "./bytes.js";
import type { FileHandle } from "./file-handle.js";
import { type Extent, MappedImage } from "./mapped-image.js";

const VDI_SIGNATURE = 0xbeda107f;
const VDI_UNALLOCATED = 0xffffffff;
const VDI_DISCARDED = 0xfffffffe;

function bad(m: string): ImageFormatError {
  return new ImageFormatError(`vdi: ${m}`);
}

export class VdiImage extends MappedImage {
  readonly format = "vdi";

  private constructor(
    file: FileHandle,
    size: number,
    private readonly bmap: Uint32Array,
    private readonly blockSize: number,
    private readonly dataOffset: number,
  ) {
    super(file, size);
  }

  static async open(file: FileHandle): Promise<VdiImage> {
    const fileSize = await file.size();
    const h = new Uint8Array(512);
    if ((await file.read(0, h)) < 400) throw bad("file is too short for a header");
    if (le32(h, 64) !== VDI_SIGNATURE) throw bad("bad signature");
    const version = le32(h, 68);
    if (version >>> 16 !== 1) throw bad(`unsupported version 0x${version.toString(16)}`);
    const type = le32(h, 76);
    if (type !== 1 && type !== 2) throw bad(`unsupported image type ${type} (only dynamic and static)`);
    const offBmap = le32(h, 340);
    const offData = le32(h, 344);
    const sectorSize = le32(h, 360);
    const diskSize = le64(h, 368, "disk_size", bad);
    const blockSize = le32(h, 376);
    const blockExtra = le32(h, 380);
    const blocks = le32(h, 384);
    if (sectorSize !== 512) throw bad(`unsupported sector size ${sectorSize}`);
    if (blockSize === 0 || blockSize & (blockSize - 1) || blockSize > 256 << 20)
      throw bad(`invalid block size ${blockSize}`);
    if (blockExtra !== 0) throw bad("block_extra is not supported");
    if (blocks > 0x3fffffff || blocks * blockSize < diskSize)
      throw bad(`block count ${blocks} does not cover the disk size`);
    if (h.subarray(424, 456).some((b) => b !== 0))
      throw bad("differencing images (parent UUID set) are not supported");
    if (offBmap + blocks * 4 > fileSize) throw bad("block map lies past the end of the file");
    if (offData > fileSize) throw bad("data offset lies past the end of the file");
    const raw = new Uint8Array(blocks * 4);
    await file.read(offBmap, raw);
    const bmap = new Uint32Array(blocks);
    for (let i = 0; i < blocks; i++) {
      const e = le32(raw, 4 * i);
      if (e < VDI_DISCARDED && e >= blocks) throw bad(`block map entry ${i} (${e}) is out of range`);
      bmap[i] = e;
    }
    return new VdiImage(file, diskSize, bmap, blockSize, offData);
  }

  protected async lookup(g: number, maxLen: number): Promise<Extent> {
    const idx = Math.floor(g / this.blockSize);
    const inBlock = g % this.blockSize;
    const length = Math.min(maxLen, this.blockSize - inBlock);
    const e = this.bmap[idx]!;
    if (e === VDI_UNALLOCATED || e === VDI_DISCARDED) return { zero: true, length };
    return { host: this.dataOffset + e * this.blockSize + inBlock, length };
  }
}
