/** `tvisor console NAME`: attach stdio to a VM's console WebSocket; Ctrl-A X detaches and leaves the VM running. */
import type { Command } from "commander";
import WebSocket from "ws";
import { UserError } from "../base/errors.js";
import { ConsoleEscape, ESCAPE_HELP } from "../vmm/node/host-io.js";
import { DaemonClient } from "./daemon-client.js";

/** With piped input, detach this long after input ends and output has gone quiet. */
const PIPE_QUIET_MS = 2000;

export function registerConsoleCommand(program: Command): void {
  program
    .command("console")
    .description("attach to a VM's console (Ctrl-A X detaches; the VM keeps running)")
    .argument("<name>", "VM name")
    .option("--state-dir <dir>", "the daemon's state directory")
    .action(async (name: string, f: { stateDir?: string }) => {
      process.exitCode = await attach(DaemonClient.fromFlag(f.stateDir), name);
    });
}

function attach(client: DaemonClient, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = `ws+unix://${client.socket}:/v1/vms/${encodeURIComponent(name)}/console`;
    const ws = new WebSocket(url);
    const stdin = process.stdin;
    const raw = stdin.isTTY === true;
    const escapes = new ConsoleEscape();
    let quietTimer: NodeJS.Timeout | null = null;
    let inputEnded = false;
    let done = false;

    const finish = (code: number, message?: string) => {
      if (done) return;
      done = true;
      if (raw) stdin.setRawMode(false);
      stdin.pause();
      stdin.off("data", onInput);
      if (quietTimer) clearTimeout(quietTimer);
      if (message) process.stderr.write(`${raw ? "\r\n" : ""}tvisor: ${message}\n`);
      ws.removeAllListeners();
      ws.on("error", () => {});
      ws.close();
      resolve(code);
    };
    const armQuiet = () => {
      if (!inputEnded) return;
      if (quietTimer) clearTimeout(quietTimer);
      quietTimer = setTimeout(() => finish(0), PIPE_QUIET_MS);
    };
    const onInput = (chunk: Buffer) => {
      let data: Uint8Array = new Uint8Array(chunk);
      if (raw) {
        const r = escapes.feed(data);
        data = r.data;
        for (const a of r.actions) {
          if (a === "quit") {
            if (data.length) ws.send(data);
            return finish(0, `detached from ${name}; it keeps running`);
          }
          if (a === "help")
            process.stdout.write(ESCAPE_HELP.replace("exit emulator", "detach (the VM keeps running)"));
        }
      }
      if (data.length) ws.send(data);
    };

    ws.on("unexpected-response", (_req, res) => {
      let text = "";
      res.on("data", (c: Buffer) => {
        text += c.toString();
      });
      res.on("end", () => {
        let msg = `HTTP ${res.statusCode}`;
        try {
          msg = (JSON.parse(text) as { error?: string }).error ?? msg;
        } catch {}
        done = true;
        reject(new UserError(msg));
      });
    });
    ws.on("error", (e: NodeJS.ErrnoException) => {
      if (done) return;
      done = true;
      if (e.code === "ENOENT" || e.code === "ECONNREFUSED") reject(client.noDaemon());
      else reject(new UserError(`console: ${e.message}`));
    });
    ws.on("open", () => {
      if (raw) {
        stdin.setRawMode(true);
        process.stderr.write(`tvisor: attached to ${name}; Ctrl-A X detaches\r\n`);
      }
      stdin.on("data", onInput);
      stdin.on("end", () => {
        inputEnded = true;
        armQuiet();
      });
      stdin.resume();
    });
    ws.on("message", (data: Buffer) => {
      process.stdout.write(data);
      armQuiet();
    });
    ws.on("close", (_code, reason) =>
      finish(0, reason.length ? reason.toString() : `console of ${name} closed`),
    );
  });
}
