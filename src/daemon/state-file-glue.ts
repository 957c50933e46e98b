/** Save/restore of a VM process's machine to a state file, through the VMM's state-file functions. */
import type { VmDefinition } from "../api/vm-spec.js";
import { UserError } from "../base/errors.js";
import type { NetBackend, VmHost } from "../vmm/host-contracts.js";
import type { VirtualMachine } from "../vmm/vm.js";

/** What a state file's header says about the machine (the name is the caller's). */
export interface StateFileInfo {
  definition: Omit<VmDefinition, "name">;
}

const NOT_YET = "state files are not available in this build yet";

/** Write the paused VM's complete state to `file`; resolves with the file's size. */
export async function saveStateFile(_vm: VirtualMachine, _file: string): Promise<number> {
  throw new UserError(`save: ${NOT_YET}`);
}

/** Build a VM from `file` (checked throughout), paused; the caller resumes it. */
export async function restoreStateFile(
  _file: string,
  _host: VmHost,
  _nics: NetBackend[],
  _vmIndex: number,
): Promise<VirtualMachine> {
  throw new UserError(`restore: ${NOT_YET}`);
}

/** Read and check a state file's header. */
export async function readStateFileInfo(_file: string): Promise<StateFileInfo> {
  throw new UserError(`restore: ${NOT_YET}`);
}
