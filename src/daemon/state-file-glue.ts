/** Save/restore of a VM process's machine to a state file, through the VMM's state-file functions. */

import type { VmDefinition } from "../api/vm-spec.js";
import { UserError } from "../base/errors.js";
import type { VirtualMachine } from "../vmm/vm.js";

/** Write the paused VM's complete state to `file`; resolves with the file's size. */
export async function saveStateFile(_vm: VirtualMachine, _file: string): Promise<number> {
  throw new UserError("save: state files are not available in this build yet");
}

/** Restore `file` into a freshly built (not yet started) VM. */
export async function loadStateFile(_vm: VirtualMachine, _file: string, _def: VmDefinition): Promise<void> {
  throw new UserError("restore: state files are not available in this build yet");
}

/** What a state file says about its VM, read and checked before anything changes. */
export async function readStateFileInfo(
  _file: string,
): Promise<{ name: string; definition: Omit<VmDefinition, "name"> }> {
  throw new UserError("restore: state files are not available in this build yet");
}
