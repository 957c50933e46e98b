/** `tvisor run`: boot a virtual machine (filled in by the machine work). */
import type { Command } from "commander";
import { UserError } from "../base/errors.js";

export function registerRunCommand(program: Command): void {
  program
    .command("run")
    .description("run a virtual machine")
    .action(() => {
      throw new UserError("run: not implemented yet");
    });
}
