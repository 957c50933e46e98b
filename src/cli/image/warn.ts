/** The warning image verbs print when they write to an image whose format they had to probe. */
import { printable } from "../../storage/printable.js";

/**
 * For openImageBackend's onProbed: probing is what a guest can subvert (it writes the bytes the probe
 * reads), so a verb that changes an image says which format it assumed and how to state it.
 */
export function warnProbed(path: string, format: string): void {
  process.stderr.write(
    `tvisor: warning: the format of ${printable(path)} was probed as ${format}; give it with -f ${format}\n`,
  );
}
