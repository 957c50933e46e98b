/** The guest-physical address space: RAM plus MMIO regions, with access-fault reporting. */
import type { GuestRam } from "./guest-ram.js";
import type { AccessSize, MmioDevice } from "./mmio.js";

interface Region {
  base: number;
  size: number;
  device: MmioDevice;
}

/**
 * Physical bus. Addresses are non-negative JS numbers (exact below 2^53, which covers the 56-bit
 * physical address space of Sv39/Sv48 well enough: anything above RAM and MMIO is an access fault).
 */
export class PhysicalBus {
  private regions: Region[] = [];

  constructor(readonly ram: GuestRam) {}

  /** Map a device at [base, base+size). Overlaps are a configuration bug and throw. */
  map(base: number, size: number, device: MmioDevice): void {
    for (const r of this.regions) {
      if (base < r.base + r.size && r.base < base + size) {
        throw new Error(`MMIO region ${device.name} overlaps ${r.device.name}`);
      }
    }
    if (base < this.ram.base + this.ram.size && this.ram.base < base + size) {
      throw new Error(`MMIO region ${device.name} overlaps RAM`);
    }
    this.regions.push({ base, size, device });
    this.regions.sort((a, b) => a.base - b.base);
  }

  /** Find the MMIO region that wholly contains [pa, pa+len), or undefined. */
  findRegion(pa: number, len: number): Region | undefined {
    for (const r of this.regions) {
      if (pa >= r.base && pa + len <= r.base + r.size) return r;
    }
    return undefined;
  }

  /** True when [pa, pa+len) is RAM. */
  isRam(pa: number, len: number): boolean {
    return this.ram.contains(pa, len);
  }

  /**
   * Read from MMIO (RAM is handled by the caller's fast path, but also works here).
   * Returns the unsigned value, or -1 on an access fault (no device there).
   * 8-byte reads use readMmio64 instead.
   */
  read(pa: number, size: AccessSize): number {
    if (this.ram.contains(pa, size)) {
      const off = pa - this.ram.base;
      if (size === 1) return this.ram.u8[off];
      if (size === 2) return this.ram.view.getUint16(off, true);
      return this.ram.view.getUint32(off, true);
    }
    const r = this.findRegion(pa, size);
    if (r === undefined) return -1;
    return r.device.read(pa - r.base, size) >>> 0;
  }

  /** Write to RAM or MMIO. Returns false on an access fault. */
  write(pa: number, size: AccessSize, value: number): boolean {
    if (this.ram.contains(pa, size)) {
      const off = pa - this.ram.base;
      if (size === 1) this.ram.u8[off] = value;
      else if (size === 2) this.ram.view.setUint16(off, value & 0xffff, true);
      else this.ram.view.setUint32(off, value >>> 0, true);
      this.ram.noteWrite(off, size);
      return true;
    }
    const r = this.findRegion(pa, size);
    if (r === undefined) return false;
    r.device.write(pa - r.base, size, value);
    return true;
  }
}
