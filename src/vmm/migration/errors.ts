/** Why a live migration failed: one typed error with a one-line message. */
import { UserError } from "../../base/errors.js";

export class MigrationError extends UserError {
  constructor(readonly detail: string) {
    super(`migration failed: ${detail}`);
    this.name = "MigrationError";
  }
}
