/**
 * Bridged networking with TAP, in network namespaces made by the test: in namespace 1 a bridge joins the
 * VM's TAP device and one end of a veth pair; the other end is in namespace 2, where an HTTP server
 * runs. The guest (`tvisor run --nic tap,ifname=...` run inside namespace 1) pings the server and fetches
 * a page from it. Skipped, saying why, without CAP_NET_ADMIN or network namespaces; the namespaces (and
 * with them the bridge, veths and TAP) and all processes are removed even when the test fails.
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { test } from "node:test";
import { BOOT_TEST_TIMEOUT_MS, missingImages, TVISOR_CLI } from "../boot/guest-session.js";
import { ProcessSession } from "../boot/qemu-session.js";

const LOSS_FREE = /(\d+) packets transmitted, \1 packets received, 0% packet loss/;

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** The server in namespace 2: answers every request with a fixed body; prints its port (it listens on 0). */
const SERVER = `
const http = require("node:http");
const s = http.createServer((q, r) => r.end("hello from namespace 2\\n"));
s.listen(0, "10.0.50.2", () => console.log("port " + s.address().port));
`;

test("a guest on a TAP bridged to a veth reaches a server in another namespace", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const id = process.pid;
  const [ns1, ns2] = [`tvisor-tap1-${id}`, `tvisor-tap2-${id}`];
  const tap = `tvtap${id % 100000}`;
  const made: string[] = [];
  const children: ChildProcess[] = [];
  let guest: ProcessSession | null = null;
  try {
    try {
      for (const ns of [ns1, ns2]) {
        ip("netns", "add", ns);
        made.push(ns);
      }
      // Namespace 1: the bridge, the TAP (made persistent here so it can be bridged before the VM
      // opens it) and one end of the veth pair; namespace 2: the other end, addressed.
      ip("-n", ns1, "link", "add", "br0", "type", "bridge");
      ip("-n", ns1, "tuntap", "add", tap, "mode", "tap");
      ip("-n", ns1, "link", "add", "veth1", "type", "veth", "peer", "name", "veth2", "netns", ns2);
      for (const dev of [tap, "veth1"]) ip("-n", ns1, "link", "set", dev, "master", "br0", "up");
      ip("-n", ns1, "link", "set", "br0", "up");
      ip("-n", ns2, "addr", "add", "10.0.50.2/24", "dev", "veth2");
      ip("-n", ns2, "link", "set", "veth2", "up");
    } catch (e) {
      return t.skip(
        `network namespaces with bridges and TAPs unavailable (needs CAP_NET_ADMIN): ${(e as Error).message.split("\n")[0]}`,
      );
    }
    const server = spawn("ip", ["netns", "exec", ns2, process.execPath, "-e", SERVER], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    children.push(server);
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      server.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        const m = /port (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      server.once("exit", (c) => reject(new Error(`server exited (${c})`)));
    });

    guest = await ProcessSession.boot("ip", [
      "netns",
      "exec",
      ns1,
      process.execPath,
      TVISOR_CLI,
      "run",
      "--nic",
      `tap,ifname=${tap},mac=52:54:00:50:00:01`,
    ]);
    const g = guest;
    assert.equal(
      (
        await g.run(
          "ip addr add 10.0.50.1/24 dev eth0 && ip link set eth0 up && " +
            'until [ "$(cat /sys/class/net/eth0/operstate)" = up ]; do sleep 0.1; done; echo ok',
        )
      ).trim(),
      "ok",
    );
    assert.match(await g.run("ping -c 3 -i 0.2 10.0.50.2"), LOSS_FREE);
    assert.equal((await g.run(`wget -q -O - http://10.0.50.2:${port}/`)).trim(), "hello from namespace 2");
  } finally {
    await guest?.close();
    for (const c of children) c.kill("SIGKILL");
    for (const ns of made) {
      try {
        ip("netns", "del", ns);
      } catch {
        // Already gone.
      }
    }
  }
});
