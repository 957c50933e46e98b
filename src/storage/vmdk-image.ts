/** Read-only VMDK monolithic sparse extents (hosted sparse extent header, VMware Virtual Disk Format 5.0). */
import { ImageFormatError } from "../base/errors.js";
import { le32, le64 } from "./bytes.js";
import type { DeflateCodec, FileHandle } from "./file-handle.js";
import { type Extent, MappedImage } from "./mapped-image.js";

const FLAG_ZERO_GRAIN = 1 << 2;
const FLAG_COMPRESSED = 1 << 16;
const GD_AT_END = 0xffffffff;

function bad(m: string): ImageFormatError {
  return new ImageFormatError(`vmdk: ${m}`);
}

export class VmdkImage extends MappedImage {
  readonly format = "vmdk";
  private readonly gtCache = new Map<number, Uint32Array>();

  private constructor(
    file: FileHandle,
    size: number,
    private readonly codec: DeflateCodec,
    private readonly gd: Uint32Array,
    private readonly grainBytes: number,
    private readonly gtes: number,
    private readonly flags: number,
    private readonly fileSize: number,
  ) {
    super(file, size);
  }

  static async open(file: FileHandle, codec: DeflateCodec): Promise<VmdkImage> {
    const fileSize = await file.size();
    const h = new Uint8Array(512);
    if ((await file.read(0, h)) < 512) throw bad("file is too short for a header");
    if (le32(h, 0) !== 0x564d444b) throw bad("bad magic (only monolithic sparse extents are supported)");
    const version = le32(h, 4);
    if (version < 1 || version > 3) throw bad(`unsupported version ${version}`);
    const flags = le32(h, 8);
    const capacity = le64(h, 12, "capacity", bad);
    const grain = le64(h, 20, "grain size", bad);
    const gtes = le32(h, 44);
    const gdHi = le32(h, 60);
    const gdLo = le32(h, 56);
    // QEMU's limits: grain ≤ 0x200000 sectors, power of two; at most 512 GTEs per table (vmdk_open_vmdk4,
    // "L2 table size too big"), which is what every writer uses. A compressed grain is decoded whole into
    // memory, so compressed images are held to 2 MiB grains (stream-optimized images use 64 KiB).
    if (grain === 0 || grain > 0x200000 || grain & (grain - 1)) throw bad(`invalid grain size ${grain}`);
    if (gtes === 0 || gtes > 512) throw bad(`invalid grain table size ${gtes}`);
    if (flags & FLAG_COMPRESSED && grain * 512 > 2 << 20)
      throw bad(`compressed grains of ${grain * 512} bytes are too large`);
    if (capacity > 2 ** 53 / 512) throw bad("capacity is too large");
    if (gdHi === GD_AT_END && gdLo === GD_AT_END)
      throw bad("stream-optimized VMDK (grain directory at end) is not supported");
    const gdOff = le64(h, 56, "gd_offset", bad) * 512;
    const grains = Math.ceil(capacity / grain);
    const gdEntries = Math.ceil(grains / gtes);
    if (gdEntries > 32 << 20) throw bad("grain directory is too large");
    if (gdOff + gdEntries * 4 > fileSize) throw bad("grain directory lies past the end of the file");
    // Embedded descriptors and the extents or parents a descriptor names are never read: only this one
    // self-contained extent is opened, so a VMDK cannot make tvisor read another host file.
    const raw = new Uint8Array(gdEntries * 4);
    await file.read(gdOff, raw);
    const gd = new Uint32Array(gdEntries);
    for (let i = 0; i < gdEntries; i++) {
      const e = le32(raw, 4 * i);
      if (e !== 0 && e * 512 + gtes * 4 > fileSize)
        throw bad(`grain directory entry ${i} points past the end of the file`);
      gd[i] = e;
    }
    return new VmdkImage(file, capacity * 512, codec, gd, grain * 512, gtes, flags, fileSize);
  }

  private async table(i: number): Promise<Uint32Array | null> {
    const off = this.gd[i]!;
    if (off === 0) return null;
    let t = this.gtCache.get(i);
    if (t) return t;
    const raw = new Uint8Array(this.gtes * 4);
    await this.file.read(off * 512, raw);
    t = new Uint32Array(this.gtes);
    for (let j = 0; j < this.gtes; j++) t[j] = le32(raw, 4 * j);
    if (this.gtCache.size > 256) this.gtCache.clear();
    this.gtCache.set(i, t);
    return t;
  }

  protected async lookup(g: number, maxLen: number): Promise<Extent> {
    const grain = Math.floor(g / this.grainBytes);
    const inGrain = g % this.grainBytes;
    const length = Math.min(maxLen, this.grainBytes - inGrain);
    const t = await this.table(Math.floor(grain / this.gtes));
    const e = t ? t[grain % this.gtes]! : 0;
    if (e === 0 || (e === 1 && this.flags & FLAG_ZERO_GRAIN)) return { zero: true, length };
    const off = e * 512;
    if (off >= this.fileSize) throw bad(`grain ${grain} points past the end of the file`);
    if (this.flags & FLAG_COMPRESSED) {
      // Compressed grain: u64 lba, u32 size, then a zlib stream (VMDK 5.0 "Stream-Optimized" grain marker).
      const hdr = new Uint8Array(12);
      await this.file.read(off, hdr);
      const size = le32(hdr, 8);
      if (size > this.grainBytes * 2 + 1024 || off + 12 + size > this.fileSize)
        throw bad(`grain ${grain} has an invalid size`);
      const z = new Uint8Array(size);
      await this.file.read(off + 12, z);
      let data: Uint8Array;
      try {
        data = this.codec.inflateZlib(z, this.grainBytes);
      } catch (err) {
        throw bad(`grain ${grain} does not decompress (${(err as Error).message})`);
      }
      return { data: data.subarray(inGrain), length };
    }
    return { host: off + inGrain, length };
  }
}
