/** The daemon's switches: VM ports and socket clients on one switch, listed with their sockets, closed at shutdown. */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StreamNetBackend } from "../net/node/stream-socket.js";
import { NetSwitches } from "./net-switch.js";

test("a daemon switch is served on <dir>/NAME.sock: a socket client and a VM port exchange frames", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-daemon-switch-"));
  const logs: string[] = [];
  let served: () => void = () => {};
  const ready = new Promise<void>((r) => {
    served = r;
  });
  const nets = new NetSwitches(join(dir, "switches"), (m) => {
    logs.push(m);
    if (m.includes("serving")) served();
  });
  t.after(() => {
    nets.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const got: Uint8Array[] = [];
  let arrived: () => void = () => {};
  const one = new Promise<void>((r) => {
    arrived = r;
  });
  const vmPort = nets.attach("lab", (f) => {
    got.push(f.slice());
    arrived();
  });
  await ready;
  const path = join(dir, "switches", "lab.sock");
  assert.deepEqual(
    nets.list().map((s) => [s.name, s.socket]),
    [["lab", path]],
  );
  const client = await StreamNetBackend.open({ mode: "connect", address: { type: "unix", path } });
  t.after(() => client.close());
  const back: Uint8Array[] = [];
  let backArrived: () => void = () => {};
  const two = new Promise<void>((r) => {
    backArrived = r;
  });
  client.onReceive((f) => {
    back.push(f.slice());
    backArrived();
  });
  const frame = (src: number) => Uint8Array.of(255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, src, 8, 0, 1, 2);
  client.send(frame(1));
  await one;
  vmPort.send(frame(2));
  await two;
  assert.deepEqual(got, [frame(1)]);
  assert.deepEqual(back, [frame(2)]);
  assert.equal(nets.list()[0].ports, 2);
  nets.close();
  assert.equal(existsSync(path), false, "the socket is removed when the daemon stops");
});
