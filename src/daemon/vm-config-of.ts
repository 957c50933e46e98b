/** A stored VM definition (api) → the VMM's VmConfig, with the host backends the VM process supplies. */
import { DEFAULT_MEM_BYTES, type VmDefinition } from "../api/vm-spec.js";
import type { CharBackend } from "../io/char-backend.js";
import type { NetBackend } from "../io/net-backend.js";
import { VIRT_VIRTIO_COUNT } from "../machine/virt-memory-map.js";
import { checkVirtioSlots, nicMacs, VIRTIO_CONSOLE_APPEND, type VmConfig } from "../vmm/vm-config.js";

export function vmConfigOf(
  def: VmDefinition,
  vmIndex: number,
  nics: NetBackend[],
  virtioConsole?: CharBackend,
): VmConfig {
  const onVirtio = def.console === "virtio";
  return {
    kernel: def.kernel,
    initrd: def.initrd,
    // As `tvisor run --console virtio`: without --append the guest's console follows the device.
    append: def.append ?? (onVirtio ? VIRTIO_CONSOLE_APPEND : undefined),
    bios: def.bios ?? "builtin",
    memBytes: def.memBytes ?? DEFAULT_MEM_BYTES,
    cpus: def.cpus ?? 1,
    disks: (def.disks ?? []).map((d) => ({ path: d.path, format: d.format, readOnly: d.readOnly ?? false })),
    rng: def.rng ?? true,
    noReboot: def.noReboot ?? false,
    nics: (def.nics ?? []).map((n, i) => ({ mac: n.mac, backend: nics[i] })),
    virtioConsole: onVirtio ? virtioConsole : undefined,
    vmIndex,
  };
}

/** The VMM's own checks of a machine (virtio slots, distinct MACs), before anything is started. */
export function checkDefinition(def: VmDefinition): void {
  const dummy: NetBackend = { send() {}, onReceive() {}, close() {} };
  const config = vmConfigOf(
    def,
    0,
    (def.nics ?? []).map(() => dummy),
    def.console === "virtio" ? { write() {}, onInput() {} } : undefined,
  );
  checkVirtioSlots(config, VIRT_VIRTIO_COUNT);
  nicMacs(config);
}
