/** A stored VM definition (api) → the VMM's VmSpec; the VMM's validator gives the cross-field checks. */
import type { VmDefinition } from "../api/vm-spec.js";
import { FieldError } from "../base/errors.js";
import { type VmSpecInput, validateVmSpec } from "../vmm/vm-spec.js";
import { badField } from "./api-error.js";

/** The VMM specification of a definition (its NICs' host sides are attached by the VM process). */
export function vmSpecOf(def: VmDefinition, vmIndex: number): VmSpecInput {
  const spec: VmSpecInput = {
    bios: def.bios ?? "builtin",
    disks: (def.disks ?? []).map((d) => ({ path: d.path, format: d.format, readOnly: d.readOnly ?? false })),
    nics: (def.nics ?? []).map((n) => (n.mac === undefined ? {} : { mac: n.mac })),
    vmIndex,
  };
  if (def.kernel !== undefined) spec.kernel = def.kernel;
  if (def.initrd !== undefined) spec.initrd = def.initrd;
  if (def.append !== undefined) spec.append = def.append;
  if (def.memBytes !== undefined) spec.memBytes = def.memBytes;
  if (def.cpus !== undefined) spec.cpus = def.cpus;
  if (def.console !== undefined) spec.console = def.console;
  if (def.rng !== undefined) spec.rng = def.rng;
  if (def.balloon !== undefined) spec.balloon = def.balloon;
  if (def.freePageReporting !== undefined) spec.freePageReporting = def.freePageReporting;
  if (def.noReboot !== undefined) spec.noReboot = def.noReboot;
  if (def.jit !== undefined) spec.jit = def.jit;
  if (def.jitCacheSize !== undefined) spec.jitCacheSize = def.jitCacheSize;
  return spec;
}

/** The VMM's own checks of the machine (virtio slots, distinct MACs, ...), as a 400 naming the body field. */
export function checkDefinition(def: VmDefinition, vmIndex: number): void {
  try {
    validateVmSpec(vmSpecOf(def, vmIndex));
  } catch (e) {
    if (e instanceof FieldError) throw badField(e.field ? `body.${e.field}` : "body", e.detail);
    throw e;
  }
}
