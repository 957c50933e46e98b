/** Why a state file cannot be read: one typed error with a one-line message, never a crash. */
import { UserError } from "../../base/errors.js";

/**
 * truncated: the file ends early. corrupt: a checksum, a length or the structure is wrong.
 * incompatible: another format version, architecture or machine, or disks that are not the same images.
 * invalid: the checksums hold but a value is not one this machine could have had (hostile or edited).
 */
export type StateFileProblem = "truncated" | "corrupt" | "incompatible" | "invalid";

export class StateFileError extends UserError {
  constructor(
    readonly problem: StateFileProblem,
    /** What is wrong, without the file name. */
    readonly detail: string,
    /** Byte offset in the file where it was found, when known. */
    readonly offset?: number,
  ) {
    super(`state file ${problem === "truncated" ? "is truncated" : `is ${problem}`}: ${detail}`);
    this.name = "StateFileError";
  }
}
