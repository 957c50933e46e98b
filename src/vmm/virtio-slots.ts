/** Which device each virtio-mmio slot of the board carries, derived from the VM specification. */
import { VIRT_VIRTIO_COUNT } from "../machine/virt-memory-map.js";

/** virtio-mmio slots of the riscv-virt board (QEMU virt has 8). */
export const VIRTIO_SLOTS = VIRT_VIRTIO_COUNT;

/** What one virtio-mmio slot carries, in slot order. */
export type VirtioSlotKind = "disk" | "nic" | "console" | "rng" | "balloon";

/**
 * The virtio devices of a spec in slot order: disks, NICs, console, rng, balloon. The order is fixed so guest
 * device names (vda, eth0, hvc1) and saved states stay the same across boots and restores.
 */
export function virtioSlots(spec: {
  disks: readonly unknown[];
  nics: readonly unknown[];
  console: string;
  rng: boolean;
  balloon?: boolean;
}): VirtioSlotKind[] {
  const slots: VirtioSlotKind[] = spec.disks.map(() => "disk");
  for (const _ of spec.nics) slots.push("nic");
  if (spec.console === "virtio") slots.push("console");
  if (spec.rng) slots.push("rng");
  if (spec.balloon) slots.push("balloon");
  return slots;
}
