#!/usr/bin/env node
/** The tvisor executable: a thin wrapper over the CLI library. */
import type { DaemonRunner } from "../cli/daemon-command.js";
import { main } from "../cli/main.js";

// A closed stdout or stderr (`tvisor image info x | head -1`, a terminal that went away) makes Node emit
// 'error' (EPIPE) on the stream, which kills the process with a stack trace when nobody listens. Output
// nobody can read is not worth dying for: discard it here; `run` also stops the VM (StdioConsole).
process.stdout.on("error", () => {});
process.stderr.on("error", () => {});

// The daemon (Fastify, the VM manager) loads only for `tvisor daemon`.
const runDaemon: DaemonRunner = async (opts) => (await import("../daemon/run-daemon.js")).runDaemon(opts);

main(process.argv.slice(2), { runDaemon }).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tvisor: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
