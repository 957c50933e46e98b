/** The tvisor command line: parses argv and dispatches to one module per verb. */
import { Command, CommanderError } from "commander";
import { errorMessage, UserError } from "../base/errors.js";
import { registerCompletionCommand } from "./completion-command.js";
import { registerConsoleCommand } from "./console-command.js";
import { type DaemonRunner, registerDaemonCommand } from "./daemon-command.js";
import { registerImageCommand } from "./image-command.js";
import { registerMigrateCommand } from "./migrate-command.js";
import { registerRunCommand } from "./run-command.js";
import { registerSnapshotCommands } from "./snapshot-commands.js";
import { registerSwitchCommand } from "./switch-command.js";
import { registerVmCommands } from "./vm-commands.js";
import { registerWebCommand } from "./web-command.js";

/** Services the entry point injects (the cli layer does not import the daemon). */
export interface CliServices {
  runDaemon?: DaemonRunner;
}

const VERSION = "0.1.0";

/** Build the program; each verb registers itself from its own file. */
export function buildProgram(services: CliServices = {}): Command {
  const program = new Command();
  program
    .name("tvisor")
    .description("tvisor: a hosted hypervisor in TypeScript")
    .version(VERSION)
    .exitOverride()
    // Commander's own parse errors read "error: ..."; every tvisor error is one "tvisor: ..." line.
    .configureOutput({ writeErr: (s) => process.stderr.write(s.replace(/^error: /, "tvisor: ")) });
  registerRunCommand(program);
  registerImageCommand(program);
  if (services.runDaemon) registerDaemonCommand(program, services.runDaemon, VERSION);
  registerVmCommands(program);
  registerSnapshotCommands(program);
  registerConsoleCommand(program);
  registerSwitchCommand(program);
  registerWebCommand(program);
  registerMigrateCommand(program);
  registerCompletionCommand(program);
  return program;
}

/** Entry point: user errors print one line and exit nonzero; no stack traces for bad input. */
export async function main(argv: string[], services: CliServices = {}): Promise<number> {
  const program = buildProgram(services);
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UserError) {
      process.stderr.write(`tvisor: ${e.message}\n`);
      return 1;
    }
    process.stderr.write(`tvisor: internal error: ${errorMessage(e)}\n`);
    if (process.env.TVISOR_DEBUG) console.error(e);
    return 1;
  }
}
