/** Tests for the Ctrl-A escape filter and the stdio console's raw/pipe behaviour. */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { ConsoleEscape } from "./console-escape.js";
import { StdioConsole } from "./stdio-console.js";

test("Ctrl-A X quits, Ctrl-A Ctrl-A sends Ctrl-A, other bytes pass", () => {
  const e = new ConsoleEscape();
  const r = e.feed(Uint8Array.from([0x61, 0x01, 0x01, 0x62, 0x01]));
  assert.deepEqual([...r.data], [0x61, 0x01, 0x62]);
  assert.deepEqual(r.actions, []);
  const r2 = e.feed(Uint8Array.from([0x78, 0x63])); // escape split across chunks
  assert.deepEqual(r2.actions, ["quit"]);
  assert.deepEqual([...r2.data], [0x63]);
});

class FakeStdin extends EventEmitter {
  rawModes: boolean[] = [];
  constructor(readonly isTTY: boolean) {
    super();
  }
  setRawMode(m: boolean) {
    this.rawModes.push(m);
  }
  resume() {}
  pause() {}
}

test("terminal: raw mode on and off, escapes interpreted", () => {
  const stdin = new FakeStdin(true);
  const written: string[] = [];
  let quit = 0;
  const c = new StdioConsole({
    input: stdin,
    output: { write: (d) => written.push(String(d)) },
    onQuit: () => quit++,
  });
  const got: number[] = [];
  c.onInput((d) => got.push(...d));
  stdin.emit("data", Buffer.from([0x6c, 0x73, 0x01, 0x78]));
  assert.deepEqual(got, [0x6c, 0x73]);
  assert.equal(quit, 1);
  c.close();
  assert.deepEqual(stdin.rawModes, [true, false]);
});

test("pipe: no raw mode, Ctrl-A passes through", () => {
  const stdin = new FakeStdin(false);
  const c = new StdioConsole({
    input: stdin,
    output: { write: () => {} },
    onQuit: () => assert.fail("no quit on pipes"),
  });
  const got: number[] = [];
  c.onInput((d) => got.push(...d));
  stdin.emit("data", Buffer.from([0x01, 0x78]));
  assert.deepEqual(got, [0x01, 0x78]);
  assert.deepEqual(stdin.rawModes, []);
  c.close();
});

test("terminal: Ctrl-A X ends the guest's last line before quitting", () => {
  const stdin = new FakeStdin(true);
  let out = "";
  let outAtQuit = "";
  const c = new StdioConsole({
    input: stdin,
    output: { write: (d) => (out += typeof d === "string" ? d : Buffer.from(d).toString("latin1")) },
    onQuit: () => (outAtQuit = out),
  });
  c.onInput(() => {});
  c.write(new TextEncoder().encode("root@tvisor:~# "));
  stdin.emit("data", Buffer.from([0x01, 0x78]));
  c.close();
  assert.equal(outAtQuit, "root@tvisor:~# \r\n");
});
