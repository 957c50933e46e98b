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

/** Narrow an unknown thrown value to a message string. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
