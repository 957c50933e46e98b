/** Save/restore of a VM process's machine to a state file, through the VMM's state-file functions. */
import type { VmDefinition } from "../api/vm-spec.js";
import { bundledName } from "../vmm/bundled-guest.js";
import type { NetBackend, VmHost } from "../vmm/host-contracts.js";
import { readStateFileHeader, restoreVmFromFile, saveVmToFile } from "../vmm/node/state-file.js";
import type { VirtualMachine } from "../vmm/vm.js";
import { apiNicOf } from "./vm-config-of.js";

/** What a state file's header says about the machine (the name is the caller's). */
export interface StateFileInfo {
  definition: Omit<VmDefinition, "name">;
}

/** Write the paused VM's complete state to `file` (atomically); resolves with the file's size. */
export async function saveStateFile(vm: VirtualMachine, file: string): Promise<number> {
  return (await saveVmToFile(vm, file)).bytes;
}

/** Build a VM from `file` (header, disks' identities, every component and RAM chunk checked), paused. */
export function restoreStateFile(
  file: string,
  host: VmHost,
  nics: (NetBackend | undefined)[],
  vmIndex: number,
  name: string,
): Promise<VirtualMachine> {
  return restoreVmFromFile(file, host, { attachments: { nics }, overrides: { vmIndex, name } });
}

/** Read and check a state file's header; its machine as a definition (NICs' networks are the caller's). */
export async function readStateFileInfo(file: string): Promise<StateFileInfo> {
  const { spec } = await readStateFileHeader(file);
  const def: Omit<VmDefinition, "name"> = {
    bios: spec.bios,
    memBytes: spec.memBytes,
    cpus: spec.cpus,
    console: spec.console,
    rng: spec.rng,
    balloon: spec.balloon,
    freePageReporting: spec.freePageReporting,
    noReboot: spec.noReboot,
    jit: spec.jit,
    jitCacheSize: spec.jitCacheSize,
  };
  // The bundled guest by name (a state file saved in a browser tab): left out, so the daemon records its
  // own copy as for any VM defined without a kernel; the VM process reads the names the same way.
  const bundled = spec.kernel !== undefined && bundledName(spec.kernel) !== null;
  if (spec.kernel !== undefined && !bundled) def.kernel = spec.kernel;
  if (spec.initrd !== undefined && !(bundled && bundledName(spec.initrd) !== null)) def.initrd = spec.initrd;
  if (spec.append !== undefined) def.append = spec.append;
  if (spec.disks.length)
    def.disks = spec.disks.map((d) => ({
      path: d.path,
      readOnly: d.readOnly,
      ...(d.format ? { format: d.format } : {}),
    }));
  if (spec.nics.length) def.nics = spec.nics.map(apiNicOf);
  return { definition: def };
}
