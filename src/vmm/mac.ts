/** Ethernet MAC addresses of virtio-net NICs: parsing, formatting and the default scheme. */
import { FieldError } from "../base/errors.js";

/** Bytes of a MAC address. */
export const MAC_BYTES = 6;
/** Largest VM index folded into default MACs. */
const MAX_VM_INDEX = 0xffff;

/**
 * QEMU's default MAC scheme (52:54:00:12:34:56, locally administered unicast), with the VM index
 * folded into bytes 3-4 and the NIC index added to byte 5, so up to 65536 VMs × 8 NICs never collide
 * and VM 0's first NIC gets QEMU's own default.
 */
export function defaultMac(vmIndex: number, nicIndex: number): Uint8Array {
  if (!Number.isInteger(vmIndex) || vmIndex < 0 || vmIndex > MAX_VM_INDEX)
    throw new FieldError("vmIndex", `VM index must be 0..${MAX_VM_INDEX}, got ${vmIndex}`, vmIndex);
  if (!Number.isInteger(nicIndex) || nicIndex < 0 || nicIndex > 0xff - 0x56)
    throw new FieldError("nics", `NIC index ${nicIndex} out of range`, nicIndex);
  return Uint8Array.of(0x52, 0x54, 0x00, 0x12 ^ (vmIndex >> 8), 0x34 ^ (vmIndex & 0xff), 0x56 + nicIndex);
}

/**
 * Parse "aa:bb:cc:dd:ee:ff" (or with dashes); a NIC address must be unicast (IEEE 802: group bit 0
 * clear). Errors name `field`.
 */
export function parseMac(text: string, field = "mac"): Uint8Array {
  const m =
    /^([0-9a-f]{2})([:-])([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i.exec(
      text.trim(),
    );
  if (!m)
    throw new FieldError(field, `cannot parse MAC address "${text}" (use e.g. 52:54:00:12:34:56)`, text);
  const mac = Uint8Array.from([m[1], m[3], m[4], m[5], m[6], m[7]], (h) => Number.parseInt(h, 16));
  if (mac[0] & 1)
    throw new FieldError(field, `${text} is a multicast address; a NIC needs a unicast one`, text);
  return mac;
}

/** "52:54:00:12:34:56" for a 6-byte MAC. */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * The default MAC of NIC `nicIndex` of the VM named `name`: 52:54:00 (QEMU's locally administered
 * prefix) and three bytes of the name's 32-bit FNV-1a hash, the NIC index XORed into the last one, so
 * a VM keeps its addresses across restarts and its own NICs never collide. The hash is fixed here
 * for good: changing it would change every guest's address.
 */
export function macFromName(name: string, nicIndex: number): Uint8Array {
  if (!Number.isInteger(nicIndex) || nicIndex < 0 || nicIndex > 0xff)
    throw new FieldError("nics", `NIC index ${nicIndex} out of range`, nicIndex);
  let h = 0x811c9dc5;
  for (const b of new TextEncoder().encode(name)) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return Uint8Array.of(0x52, 0x54, 0x00, (h >>> 16) & 0xff, (h >>> 8) & 0xff, (h & 0xff) ^ nicIndex);
}
