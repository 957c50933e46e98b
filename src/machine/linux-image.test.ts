/** Tests for Image header parsing and gzip unpacking. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { isGzip, loadBootKernel, loadLinuxKernel, parseLinuxImageHeader } from "./linux-image.js";
import { nodeGunzip } from "./node/gunzip.js";

function fakeImage(size = 8192, imageSize = 0x20000, magic2 = 0x05435352): Uint8Array {
  const b = new Uint8Array(size);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, 0x0000006f, true); // code0: j . (any code)
  dv.setBigUint64(8, 0x200000n, true);
  dv.setBigUint64(16, BigInt(imageSize), true);
  dv.setUint32(32, 2, true);
  dv.setBigUint64(48, 0x5643534952n, true);
  dv.setUint32(56, magic2, true);
  return b;
}

test("parses the header fields", () => {
  const h = parseLinuxImageHeader(fakeImage());
  assert.equal(h.textOffset, 0x200000);
  assert.equal(h.imageSize, 0x20000);
  assert.equal(h.version, 2);
});

test("rejects non-images with a clear message", () => {
  assert.throws(() => parseLinuxImageHeader(new Uint8Array(10)), /too short/);
  const noMagic = fakeImage(8192, 0x20000, 0);
  new DataView(noMagic.buffer).setBigUint64(48, 0n, true);
  assert.throws(() => parseLinuxImageHeader(noMagic), /not a RISC-V Linux Image/);
  const elf = new Uint8Array(128);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.throws(() => parseLinuxImageHeader(elf), /ELF/);
  assert.throws(() => parseLinuxImageHeader(fakeImage(8192, 4096)), /image_size/);
});

test("image_size 0 (pre-0.2 header) falls back to the file size", () => {
  assert.equal(parseLinuxImageHeader(fakeImage(8192, 0)).imageSize, 8192);
});

test("unpacks gzip kernels", async () => {
  const raw = fakeImage();
  const gz = new Uint8Array(gzipSync(raw));
  assert.ok(isGzip(gz));
  assert.ok(!isGzip(raw));
  const k = await loadLinuxKernel(gz, nodeGunzip);
  assert.equal(k.compressed, true);
  assert.deepEqual(k.image, raw);
  const corrupt = gz.slice();
  corrupt.fill(0xff, 20, 40);
  await assert.rejects(loadLinuxKernel(corrupt, nodeGunzip), /gzip data is corrupt/);
});

test("loadBootKernel: an Image by its magic, an ELF at its physical addresses, anything else raw", async () => {
  // A raw binary (U-Boot's u-boot.bin is one): placed whole at the kernel start, entered at its start.
  const raw = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const r = await loadBootKernel(raw, nodeGunzip);
  assert.equal(r.format, "raw");
  assert.equal(r.loadAddr, undefined);
  assert.equal(r.entry, undefined);
  assert.equal(r.header.imageSize, 300);
  assert.deepEqual(r.image, raw);
  // Compressed data that is neither an Image nor an ELF is refused, never run as a raw program.
  await assert.rejects(loadBootKernel(gzipSync(raw), nodeGunzip), /neither a Linux Image nor an ELF/);
  // Shorter than one instruction: a wrong or truncated file, refused in words instead of run.
  await assert.rejects(loadBootKernel(Uint8Array.of(0x52, 0x53, 0x43), nodeGunzip), /3 bytes is too short/);
  // An ELF: segments flattened from the lowest physical address, entered at e_entry.
  const elf = tinyElf(0x80200000, 0x80200010);
  const e = await loadBootKernel(elf, nodeGunzip);
  assert.equal(e.format, "elf");
  assert.equal(e.loadAddr, 0x80200000);
  assert.equal(e.entry, 0x80200010);
  assert.equal(e.header.imageSize, 0x1000); // memsz includes the zeroed tail (bss)
  assert.equal(e.image[0], 0x13);
  assert.equal(e.image[0xfff], 0);
  // An ELF for another machine is refused, not run as raw bytes.
  const x86 = elf.slice();
  x86[18] = 62;
  await assert.rejects(loadBootKernel(x86, nodeGunzip), /^UserError: kernel: ELF is for machine x86-64/);
  // The strict Image loader still refuses what is not an Image.
  await assert.rejects(loadLinuxKernel(raw, nodeGunzip), /not a RISC-V Linux Image/);
  await assert.rejects(loadBootKernel(new Uint8Array(0), nodeGunzip), /the file is empty/);
});

/** A minimal ELF64 RISC-V executable: one PT_LOAD of 64 bytes (filesz) / 4 KiB (memsz) at `paddr`. */
function tinyElf(paddr: number, entry: number): Uint8Array {
  const b = new Uint8Array(64 + 56 + 64);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 243, true); // EM_RISCV
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(entry), true);
  v.setBigUint64(32, 64n, true); // e_phoff
  v.setUint16(52, 64, true); // e_ehsize
  v.setUint16(54, 56, true); // e_phentsize
  v.setUint16(56, 1, true); // e_phnum
  v.setUint32(64, 1, true); // PT_LOAD
  v.setUint32(68, 5, true); // R+X
  v.setBigUint64(72, 120n, true); // p_offset
  v.setBigUint64(80, BigInt(paddr), true); // p_vaddr
  v.setBigUint64(88, BigInt(paddr), true); // p_paddr
  v.setBigUint64(96, 64n, true); // p_filesz
  v.setBigUint64(104, 0x1000n, true); // p_memsz
  b.fill(0x13, 120, 184);
  return b;
}
