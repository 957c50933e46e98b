/** Error types shared by every layer: user-facing errors carry a one-line message and never a stack trace. */

/** An error caused by user input (bad flags, missing files, broken images). The CLI prints only its message. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}

/** A disk image whose structure is invalid; the message names what is wrong. */
export class ImageFormatError extends UserError {
  constructor(message: string) {
    super(message);
    this.name = "ImageFormatError";
  }
}

/**
 * A user-supplied value that is malformed or out of range: a VM specification field (`cpus`,
 * `disks[1].format`), a board option (`harts`), a state-file field. It carries the field's name in the
 * layer's own terms and the offending value; only the CLI and API turn `field` into a flag or a JSON
 * pointer, so lower layers never speak in flag names.
 */
export class FieldError extends UserError {
  constructor(
    /** Dotted path of the field: `cpus`, `disks[0].path`, `harts`. */
    readonly field: string,
    /** What is wrong, without the field name: "must be 1..8, got 9". */
    readonly detail: string,
    /** The offending value, when there is one. */
    readonly value?: unknown,
  ) {
    super(field === "" ? detail : `${field}: ${detail}`);
    this.name = "FieldError";
  }
}

/** Narrow an unknown thrown value to a message string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
