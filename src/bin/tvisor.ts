#!/usr/bin/env node
/** The tvisor executable: a thin wrapper over the CLI library. */
import { main } from "../cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`tvisor: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
