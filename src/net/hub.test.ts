/** Learning-switch tests for the in-process hub. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { NetHub } from "./hub.js";

function mac(n: number): number[] {
  return [2, 0, 0, 0, 0, n];
}

function frame(dst: number[], src: number[]): Uint8Array {
  return Uint8Array.from([...dst, ...src, 0x08, 0x00, 1, 2, 3]);
}

function attach(hub: NetHub) {
  const port = hub.port();
  const got: Uint8Array[] = [];
  port.onReceive((f) => got.push(f));
  return { port, got };
}

test("unknown unicast and broadcast flood to every other port", () => {
  const hub = new NetHub();
  const [a, b, c] = [attach(hub), attach(hub), attach(hub)];
  a.port.send(frame(mac(9), mac(1)));
  assert.equal(a.got.length, 0);
  assert.equal(b.got.length, 1);
  assert.equal(c.got.length, 1);
  b.port.send(frame([255, 255, 255, 255, 255, 255], mac(2)));
  assert.equal(a.got.length, 1);
  assert.equal(c.got.length, 2);
});

test("learned unicast goes to one port only", () => {
  const hub = new NetHub();
  const [a, b, c] = [attach(hub), attach(hub), attach(hub)];
  a.port.send(frame(mac(2), mac(1))); // flood, learns 1 → a
  b.port.send(frame(mac(1), mac(2))); // learned: only a
  assert.equal(a.got.length, 1);
  assert.equal(c.got.length, 1, "c saw only the first flood");
  a.port.send(frame(mac(2), mac(1))); // 2 → b now learned
  assert.equal(b.got.length, 2);
  assert.equal(c.got.length, 1);
});

test("runt frames are dropped; closed ports leave the table", () => {
  const hub = new NetHub();
  const [a, b] = [attach(hub), attach(hub)];
  a.port.send(new Uint8Array(5));
  assert.equal(b.got.length, 0);
  assert.equal(hub.dropped, 1);
  b.port.send(frame(mac(1), mac(2)));
  b.port.close();
  assert.equal(hub.size, 1);
  const c = attach(hub);
  a.port.send(frame(mac(2), mac(1)));
  assert.equal(c.got.length, 1, "mac 2 forgotten: flooded to the new port");
});

test("a receiver that throws loses its copy only; the sender and other ports are unaffected", () => {
  const hub = new NetHub();
  const a = attach(hub);
  const bad = hub.port();
  bad.onReceive(() => {
    throw new Error("broken receiver");
  });
  const c = attach(hub);
  assert.doesNotThrow(() => a.port.send(frame([255, 255, 255, 255, 255, 255], mac(1))));
  assert.equal(c.got.length, 1, "flood continued past the failing port");
  assert.equal(hub.dropped, 1);
  assert.equal(hub.forwarded, 1);
});
