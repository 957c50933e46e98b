/** `tvisor web`: reach the daemon's web console from a browser (`--open`), or write the in-tab VM page (`--standalone`). */
import type { Command } from "commander";
import { UserError } from "../base/errors.js";
import { DaemonClient } from "./daemon-client.js";
import { readDaemonToken, startForwarder } from "./web-forward.js";
import { writeStandalone } from "./web-standalone.js";

interface WebFlags {
  stateDir?: string;
  open?: boolean;
  port?: string;
  standalone?: string;
}

export function registerWebCommand(program: Command): void {
  program
    .command("web")
    .description(
      "the web console: --open forwards a loopback port to the daemon's socket and prints the URL; " +
        "--standalone DIR writes the page that runs the bundled guest in the browser",
    )
    .option("--open", "forward 127.0.0.1:PORT to the daemon's Unix socket and print the console's URL")
    .option("--port <n>", "loopback port for --open (default: any free port)", "0")
    .option("--standalone <dir>", "write the in-browser VM page (static files) into DIR")
    .option("--state-dir <dir>", "the daemon's state directory")
    .action(async (f: WebFlags) => {
      if (f.standalone !== undefined) {
        if (f.open) throw new UserError("--standalone and --open do not go together");
        const { files, bytes } = await writeStandalone(f.standalone);
        process.stdout.write(
          `wrote ${files} files (${(bytes / 1048576).toFixed(1)} MiB) to ${f.standalone}; serve the directory over HTTP and open index.html\n`,
        );
        return;
      }
      if (!f.open) throw new UserError("say --open (forward a port to the daemon) or --standalone DIR");
      const port = Number(f.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new UserError(`--port: expected 0-65535, got "${f.port}"`);
      const client = DaemonClient.fromFlag(f.stateDir);
      const token = await readDaemonToken(client.stateDir);
      await client.raw("GET", "/v1/vms").catch(() => {
        throw client.noDaemon();
      });
      const fwd = await startForwarder(client.socket, token, port);
      // The token rides in the fragment, which the browser keeps to itself (RFC 3986 §3.5); the page moves
      // it to sessionStorage and drops it from the address bar.
      process.stdout.write(`http://127.0.0.1:${fwd.port}/#token=${token}\n`);
      process.stderr.write("tvisor: forwarding to the daemon; Ctrl-C ends it\n");
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await fwd.close();
    });
}
