/** A stored VM definition (api) → the VMM's VmSpec; the VMM's validator gives the cross-field checks. */
import type { NicSpec as ApiNic, VmDefinition } from "../api/vm-spec.js";
import { FieldError } from "../base/errors.js";
import { type NicSpec, type NicSpecInput, type VmSpecInput, validateVmSpec } from "../vmm/vm-spec.js";
import { badField } from "./api-error.js";

/** The VMM specification of a definition (its NICs' host sides are attached by the VM process). */
export function vmSpecOf(def: VmDefinition, vmIndex: number): VmSpecInput {
  const spec: VmSpecInput = {
    bios: def.bios ?? "builtin",
    disks: (def.disks ?? []).map((d) => ({ path: d.path, format: d.format, readOnly: d.readOnly ?? false })),
    nics: (def.nics ?? []).map((n, i) => vmmNicOf(n, i)),
    vmIndex,
    // Default MACs derive from the name, so they survive restarts, re-creation and daemon moves.
    name: def.name,
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

/**
 * The daemon switch a NIC is on, or undefined when it has another backend (opened by the VM process).
 * `--nic NETWORK` and `--nic switch=NAME` name the same switches: in the daemon both are its own.
 */
export function nicNetwork(n: ApiNic): string | undefined {
  if (n.backend?.kind === "switch") return n.backend.name;
  return n.backend === undefined ? (n.network ?? "default") : undefined;
}

/** An API NIC → the VMM's: `network` is a hub port (the daemon attaches it), `backend` the VM process opens. */
export function vmmNicOf(n: ApiNic, i: number): NicSpecInput {
  if (n.backend !== undefined && n.network !== undefined)
    throw new FieldError(`nics[${i}].network`, "give a network or a backend, not both", n.network);
  const network = nicNetwork(n);
  // A daemon switch is a port the daemon attaches (relayed over IPC), whichever way it was named.
  const nic: NicSpecInput = {
    backend:
      n.backend === undefined || network !== undefined
        ? { kind: "hub", network: network ?? "default" }
        : toVmmBackend(n.backend),
  };
  if (n.mac !== undefined) nic.mac = n.mac;
  if (n.pcap !== undefined) nic.pcap = n.pcap;
  return nic;
}

function toVmmBackend(b: NonNullable<ApiNic["backend"]>): NicSpec["backend"] {
  if (b.kind === "user")
    return {
      kind: "user",
      hostfwd: b.hostfwd ?? [],
      ...(b.hostDns === undefined ? {} : { hostDns: b.hostDns }),
    };
  if (b.kind === "stream")
    return {
      kind: "stream",
      server: b.server ?? false,
      addr: b.addr,
      ...(b.reconnect === undefined ? {} : { reconnect: b.reconnect }),
    };
  return b;
}

/** A VMM NIC (from a state file's spec) → the API's. */
export function apiNicOf(n: NicSpec): ApiNic {
  const nic: ApiNic =
    n.backend.kind === "hub" ? { network: n.backend.network ?? "default" } : { backend: n.backend };
  if (n.mac !== undefined) nic.mac = n.mac;
  if (n.pcap !== undefined) nic.pcap = n.pcap;
  return nic;
}
