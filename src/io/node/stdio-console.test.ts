/** Tests for the stdio console against hostile host streams: a closed or stalled stdout, a flood on stdin. */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { test } from "node:test";
import { MAX_EARLY_INPUT, MAX_OUTPUT_BACKLOG, StdioConsole } from "./stdio-console.js";

class FakeStdin extends EventEmitter {
  paused = false;
  readonly isTTY = false;
  resume() {
    this.paused = false;
  }
  pause() {
    this.paused = true;
  }
}

/** A stdout whose reader may go away (EPIPE) or stop reading (a growing backlog). */
class FakeStdout extends EventEmitter {
  writableLength = 0;
  writes = 0;
  write(d: Uint8Array | string): boolean {
    this.writes++;
    this.writableLength += d.length;
    return true;
  }
}

function epipe(): Error {
  return Object.assign(new Error("write EPIPE"), { code: "EPIPE" });
}

test("EPIPE on stdout: reported once through onOutputClosed, later output discarded, nothing thrown", () => {
  const stdin = new FakeStdin();
  const stdout = new FakeStdout();
  const closed: Error[] = [];
  const c = new StdioConsole({ input: stdin, output: stdout, onOutputClosed: (e) => closed.push(e) });
  c.write(Uint8Array.of(0x41));
  c.flush();
  assert.equal(stdout.writes, 1);
  // Without a listener this emit would throw (an unhandled 'error' event kills the process).
  stdout.emit("error", epipe());
  stdout.emit("error", epipe());
  assert.equal(closed.length, 1);
  assert.equal(c.outputClosed, true);
  c.write(Uint8Array.of(0x42));
  c.flush();
  assert.equal(stdout.writes, 1);
  c.close();
});

test("a read error on stdin ends input without throwing", () => {
  const stdin = new FakeStdin();
  const c = new StdioConsole({ input: stdin, output: new FakeStdout() });
  const got: number[] = [];
  c.onInput((d) => got.push(...d));
  stdin.emit("error", Object.assign(new Error("read EIO"), { code: "EIO" }));
  assert.equal(stdin.paused, true);
  stdin.emit("data", Buffer.from("late"));
  assert.deepEqual(got, []);
  c.close();
});

test("a stalled reader: output beyond MAX_OUTPUT_BACKLOG queued bytes is dropped and counted", () => {
  const stdout = new FakeStdout();
  const c = new StdioConsole({ input: new FakeStdin(), output: stdout });
  const chunk = new Uint8Array(64 * 1024);
  const total = 4 * MAX_OUTPUT_BACKLOG;
  for (let sent = 0; sent < total; sent += chunk.length) c.write(chunk);
  assert.ok(stdout.writableLength <= MAX_OUTPUT_BACKLOG, `${stdout.writableLength} bytes queued`);
  assert.equal(stdout.writableLength + c.droppedOutput, total);
  c.close();
});

test("a flood on stdin before the guest listens keeps only MAX_EARLY_INPUT bytes, from the start", () => {
  const stdin = new FakeStdin();
  const c = new StdioConsole({ input: stdin, output: new FakeStdout() });
  const chunk = Buffer.alloc(65536, 0x30);
  chunk[0] = 0x31;
  for (let i = 0; i < 256; i++) stdin.emit("data", chunk); // 16 MiB
  let got = 0;
  let first = -1;
  c.onInput((d) => {
    if (first < 0) first = d[0];
    got += d.length;
  });
  assert.equal(got, MAX_EARLY_INPUT);
  assert.equal(first, 0x31);
  // Once a receiver exists, input flows to it unbuffered.
  stdin.emit("data", chunk);
  assert.equal(got, MAX_EARLY_INPUT + chunk.length);
  c.close();
});

test("flow control: the receiver pauses and resumes stdin; a full early buffer pauses it until a receiver comes", () => {
  const stdin = new FakeStdin();
  const c = new StdioConsole({ input: stdin, output: new FakeStdout() });
  for (let i = 0; i < 16; i++) stdin.emit("data", Buffer.alloc(MAX_EARLY_INPUT / 16));
  assert.equal(stdin.paused, true, "paused with the early buffer full, nothing dropped yet");
  let got = 0;
  c.onInput((d) => {
    got += d.length;
  });
  assert.equal(got, MAX_EARLY_INPUT);
  assert.equal(stdin.paused, false);
  c.setInputPaused(true);
  assert.equal(stdin.paused, true);
  c.setInputPaused(false);
  assert.equal(stdin.paused, false);
  // A new receiver (a rebooted board) starts unpaused, whatever the old one asked.
  c.setInputPaused(true);
  c.onInput(() => {});
  assert.equal(stdin.paused, false);
  c.close();
});

/** A stdout that cannot write yet: it keeps what it is given, as a stream with a full pipe does. */
class QueueingStdout extends EventEmitter {
  readonly queued: Uint8Array[] = [];
  get writableLength(): number {
    return this.queued.reduce((n, d) => n + d.length, 0);
  }
  write(d: Uint8Array | string): boolean {
    this.queued.push(typeof d === "string" ? Buffer.from(d) : d);
    return false;
  }
  text(): string {
    return Buffer.concat(this.queued).toString("latin1");
  }
}

test("output written from one reused buffer reaches a slow reader intact (the UART passes one byte array)", async () => {
  const stdout = new QueueingStdout();
  const c = new StdioConsole({ input: new FakeStdin(), output: stdout });
  const txByte = new Uint8Array(1);
  const line = "Domain0 Next Mode : S-mode\r\n";
  for (const ch of line) {
    txByte[0] = ch.charCodeAt(0);
    c.write(txByte);
  }
  txByte[0] = 0x61; // the device goes on using its buffer after the writes returned
  await Promise.resolve(); // output is handed over at the end of the turn
  assert.equal(stdout.text(), line);
  assert.equal(stdout.queued.length, 1, "one write for the whole turn's output");
  c.write(Uint8Array.of(0x62));
  c.close(); // close hands over what is still gathered
  assert.equal(stdout.text(), `${line}b`);
});
