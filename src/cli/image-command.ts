/** `tvisor image`: qemu-img style disk image tools (filled in by the storage work). */
import type { Command } from "commander";
import { UserError } from "../base/errors.js";

export function registerImageCommand(program: Command): void {
  program
    .command("image")
    .description("create, inspect and convert disk images (qemu-img compatible)")
    .action(() => {
      throw new UserError("image: not implemented yet");
    });
}
