/** Stream socket backend over real Unix and TCP sockets: framing, one peer at a time, reconnect, hostile peers, bounds. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import type { NetPeer } from "../../io/net-backend.js";
import { encodeStreamFrame, MAX_STREAM_FRAME } from "../stream-framing.js";
import { MAX_TX_BACKLOG, type StreamAddress, StreamNetBackend } from "./stream-socket.js";

function frame(n: number, len = 60): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(n);
  return f;
}

/** Collects received frames; `next(k)` resolves once k frames in total have arrived. */
function collector(b: StreamNetBackend) {
  const got: Uint8Array[] = [];
  const waiters: Array<[number, () => void]> = [];
  b.onReceive((f) => {
    got.push(f.slice());
    for (const w of waiters.splice(0)) {
      if (got.length >= w[0]) w[1]();
      else waiters.push(w);
    }
  });
  return {
    got,
    next: (k: number) =>
      got.length >= k ? Promise.resolve() : new Promise<void>((r) => waiters.push([k, r])),
  };
}

/** Resolves when the backend's link becomes `up`. */
function link(b: StreamNetBackend, up: boolean): Promise<void> {
  if (b.linkUp === up) return Promise.resolve();
  return new Promise((resolve) => {
    const off = b.onLinkChange((now) => {
      if (now === up) {
        off();
        resolve();
      }
    });
  });
}

function tempDir(t: { after: (fn: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-stream-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function rawConnect(a: StreamAddress): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = a.type === "unix" ? createConnection(a.path) : createConnection(a.port, a.host);
    s.once("connect", () => resolve(s));
    s.once("error", reject);
  });
}

test("TCP: listen on port 0, connect, frames both ways with counters, link follows the peer", async (t) => {
  const server = await StreamNetBackend.open({
    mode: "listen",
    address: { type: "inet", host: "127.0.0.1", port: 0 },
  });
  t.after(() => server.close());
  assert.ok(server.boundAddress.type === "inet" && server.boundAddress.port > 0);
  assert.equal(server.linkUp, false, "no peer yet: link down");
  const sc = collector(server);
  const client = await StreamNetBackend.open({ mode: "connect", address: server.boundAddress });
  t.after(() => client.close());
  const cc = collector(client);
  await link(server, true);
  client.send(frame(1));
  client.send(frame(2, 1514));
  server.send(frame(3, MAX_STREAM_FRAME));
  await sc.next(2);
  await cc.next(1);
  assert.deepEqual(sc.got, [frame(1), frame(2, 1514)]);
  assert.deepEqual(cc.got, [frame(3, MAX_STREAM_FRAME)]);
  assert.equal(client.counters.txFrames, 2);
  assert.equal(client.counters.txBytes, 60 + 1514);
  assert.equal(server.counters.rxBytes, 60 + 1514);
  // Not frames: nothing goes on the wire for them.
  client.send(new Uint8Array(0));
  client.send(new Uint8Array(MAX_STREAM_FRAME + 1));
  assert.equal(client.counters.txDropped, 2);
  client.close();
  await link(server, false);
  server.send(frame(4));
  assert.equal(server.counters.txDropped, 1, "a frame with no peer is dropped and counted");
});

test("Unix listener: one peer at a time, the next is accepted when it leaves; the path is removed at close", async (t) => {
  const dir = tempDir(t);
  const address: StreamAddress = { type: "unix", path: join(dir, "wire.sock") };
  const server = await StreamNetBackend.open({ mode: "listen", address });
  const sc = collector(server);
  const a = await StreamNetBackend.open({ mode: "connect", address });
  await link(server, true);
  const extra = await rawConnect(address);
  const extraClosed = new Promise<void>((r) => extra.once("close", () => r()));
  extra.on("error", () => {});
  extra.resume();
  await extraClosed;
  assert.equal(server.counters.refused, 1, "a second connection is refused while one peer is connected");
  a.close();
  await link(server, false);
  const b = await StreamNetBackend.open({ mode: "connect", address });
  await link(server, true);
  b.send(frame(9));
  await sc.next(1);
  assert.deepEqual(sc.got, [frame(9)]);
  assert.equal(server.counters.connects, 2);
  b.close();
  server.close();
  await assert.rejects(rawConnect(address), "the socket path is gone after close");
});

test("malformed lengths from the peer drop the connection, count it, and the listener serves the next peer", async (t) => {
  const server = await StreamNetBackend.open({
    mode: "listen",
    address: { type: "inet", host: "127.0.0.1", port: 0 },
  });
  t.after(() => server.close());
  const sc = collector(server);
  const bad: Uint8Array[] = [
    Uint8Array.of(0, 0, 0, 0),
    Uint8Array.of(0xff, 0xff, 0xff, 0xff),
    Uint8Array.of(0, 1, 0, 0x12), // MAX_STREAM_FRAME + 1
  ];
  for (const [i, hdr] of bad.entries()) {
    const s = await rawConnect(server.boundAddress);
    const closed = new Promise<void>((r) => s.once("close", () => r()));
    s.on("error", () => {});
    s.resume();
    // A good frame first: it is delivered, then the bad length ends the connection.
    s.write(encodeStreamFrame(frame(i)));
    s.write(hdr);
    await closed;
    assert.equal(server.counters.malformed, i + 1);
    await link(server, false);
  }
  assert.deepEqual(sc.got, [frame(0), frame(1), frame(2)]);
  // A peer that closes in the middle of a frame sent a truncated one: counted too.
  const s = await rawConnect(server.boundAddress);
  await link(server, true);
  s.end(Uint8Array.of(0, 0, 0, 60, 1, 2));
  await link(server, false);
  assert.equal(server.counters.malformed, 4);
  assert.equal(sc.got.length, 3);
});

test("connect without reconnect fails with a UserError; with reconnect it retries until the listener exists and after it goes", async (t) => {
  const dir = tempDir(t);
  const address: StreamAddress = { type: "unix", path: join(dir, "later.sock") };
  await assert.rejects(
    StreamNetBackend.open({ mode: "connect", address }),
    (e: unknown) => e instanceof UserError && e.message.startsWith(`cannot connect to unix:${address.path}`),
  );
  await assert.rejects(
    StreamNetBackend.open({ mode: "listen", address, reconnectSeconds: 1 }),
    /reconnect= applies only to a connecting stream/,
  );
  const client = await StreamNetBackend.open({ mode: "connect", address, reconnectSeconds: 1 });
  t.after(() => client.close());
  assert.equal(client.linkUp, false);
  let server = await StreamNetBackend.open({ mode: "listen", address });
  await link(client, true);
  server.close();
  await link(client, false);
  server = await StreamNetBackend.open({ mode: "listen", address });
  t.after(() => server.close());
  await link(client, true);
  const sc = collector(server);
  client.send(frame(7));
  await sc.next(1);
  assert.ok(client.counters.connects >= 2);
});

test("a peer that never reads: the send backlog stays bounded and the excess is dropped and counted", async (t) => {
  const sockets: Socket[] = [];
  const raw = createServer((s) => {
    s.pause(); // never read
    sockets.push(s);
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    raw.close();
  });
  const port = (raw.address() as { port: number }).port;
  const client = await StreamNetBackend.open({
    mode: "connect",
    address: { type: "inet", host: "127.0.0.1", port },
  });
  t.after(() => client.close());
  const big = frame(1, 65000);
  const n = 2000; // 130 MB offered: far beyond any kernel socket buffers
  for (let i = 0; i < n; i++) client.send(big);
  assert.ok(client.counters.txDropped > 0, "frames beyond the backlog are dropped");
  assert.equal(client.counters.txFrames + client.counters.txDropped, n);
  // Node's queue holds at most MAX_TX_BACKLOG + one frame; the kernel took what one write accepted.
  assert.ok(client.counters.txBytes < MAX_TX_BACKLOG + (16 << 20), "queued bytes are bounded, not 130 MB");
});

/** A NIC stand-in for flow control: `room` frames can be taken; records carrier and writable calls. */
class FakeNic implements NetPeer {
  room = Number.POSITIVE_INFINITY;
  carriers: boolean[] = [];
  writables = 0;
  canReceive(): boolean {
    return this.room > 0;
  }
  writable(): void {
    this.writables++;
  }
  carrier(up: boolean): void {
    this.carriers.push(up);
  }
}

test("flow control: a NIC without room stops the socket being read; resumeReceive delivers in order", async (t) => {
  const server = await StreamNetBackend.open({
    mode: "listen",
    address: { type: "inet", host: "127.0.0.1", port: 0 },
  });
  t.after(() => server.close());
  const nic = new FakeNic();
  const sc = collector(server);
  server.setPeer(nic);
  assert.deepEqual(nic.carriers, [false], "setPeer reports the carrier at once");
  const client = await StreamNetBackend.open({ mode: "connect", address: server.boundAddress });
  t.after(() => client.close());
  await link(server, true);
  assert.deepEqual(nic.carriers, [false, true]);
  nic.room = 2;
  // 200 frames: the NIC takes two, the rest wait (in the held queue and the peer's socket).
  const two = new Promise<void>((resolve) => {
    server.onReceive((f) => {
      nic.room--;
      sc.got.push(f.slice());
      if (sc.got.length === 2) resolve();
    });
  });
  for (let i = 0; i < 200; i++) client.send(frame(i & 0xff));
  await two;
  // The third frame finds no room: from then on the socket is not read.
  const internals = server as unknown as { peer: Socket };
  while (server.heldFrames === 0) await new Promise<void>((r) => setImmediate(r));
  assert.equal(internals.peer.isPaused(), true, "the socket is not read while the NIC has no room");
  assert.equal(sc.got.length, 2, "only what the NIC had room for");
  nic.room = Number.POSITIVE_INFINITY;
  const all = new Promise<void>((resolve) =>
    server.onReceive((f) => {
      sc.got.push(f.slice());
      if (sc.got.length === 200) resolve();
    }),
  );
  server.resumeReceive();
  await all;
  assert.deepEqual(
    sc.got.map((f) => f[0]),
    Array.from({ length: 200 }, (_, i) => i & 0xff),
    "in order, none lost",
  );
  assert.equal(server.counters.rxDropped, 0);
});

test("flow control: send reports congestion toward a slow peer and writable() follows the drain", async (t) => {
  const sockets: Socket[] = [];
  const raw = createServer((s) => {
    s.pause();
    sockets.push(s);
  });
  await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
  t.after(() => {
    for (const s of sockets) s.destroy();
    raw.close();
  });
  const port = (raw.address() as { port: number }).port;
  const client = await StreamNetBackend.open({
    mode: "connect",
    address: { type: "inet", host: "127.0.0.1", port },
  });
  t.after(() => client.close());
  const nic = new FakeNic();
  client.setPeer(nic);
  let sent = 0;
  while (client.send(frame(1, 60000)) !== false) sent++;
  assert.ok(sent < 1000, "congestion reported before 60 MB are queued");
  assert.equal(client.counters.txDropped, 0, "a sender that stops at congestion loses nothing");
  const writable = new Promise<void>((resolve) => {
    nic.writable = () => resolve();
  });
  for (const s of sockets) s.resume(); // the peer reads: the socket drains
  await writable;
});

test("a stale Unix socket path is taken over; a live one and a regular file are refused", async (t) => {
  const dir = tempDir(t);
  const path = join(dir, "s.sock");
  // A listener that dies without unlinking leaves its path behind.
  const dead = createServer();
  await new Promise<void>((r) => dead.listen(path, r));
  const d = dead as unknown as { _handle: { close(): void } | null };
  // Close the fd without the unlink net.Server.close() would do.
  d._handle?.close();
  d._handle = null;
  const b = await StreamNetBackend.open({ mode: "listen", address: { type: "unix", path } });
  await assert.rejects(
    StreamNetBackend.open({ mode: "listen", address: { type: "unix", path } }),
    /another process is listening there/,
  );
  b.close();
  const file = join(dir, "file");
  writeFileSync(file, "keep me");
  await assert.rejects(
    StreamNetBackend.open({ mode: "listen", address: { type: "unix", path: file } }),
    /exists and is not a socket/,
  );
});
