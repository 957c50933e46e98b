/** UDP backend over real sockets: unicast both ways, multicast between members, hostile datagrams, holding for a full NIC. */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import type { NetPeer } from "../../io/net-backend.js";
import { MAX_STREAM_FRAME } from "../stream-framing.js";
import { DgramNetBackend, MAX_HELD } from "./dgram-socket.js";

function frame(n: number, len = 60): Uint8Array {
  return new Uint8Array(len).fill(n);
}

/** Collects frames; `next(k)` resolves once k have arrived. */
function collector(b: DgramNetBackend) {
  const got: Uint8Array[] = [];
  let wake: (() => void) | null = null;
  let want = 0;
  b.onReceive((f) => {
    got.push(f.slice());
    if (wake && got.length >= want) wake();
  });
  return {
    got,
    next(k: number): Promise<void> {
      if (got.length >= k) return Promise.resolve();
      want = k;
      return new Promise((r) => {
        wake = r;
      });
    },
  };
}

/** Two unicast backends on 127.0.0.1 pointed at each other (ports read back from port 0). */
async function pair() {
  const probeA = createSocket("udp4");
  const probeB = createSocket("udp4");
  // Learn two free ports first: each backend needs the other's port as its remote.
  await Promise.all([probeA, probeB].map((s) => new Promise<void>((r) => s.bind(0, "127.0.0.1", r))));
  const pa = probeA.address().port;
  const pb = probeB.address().port;
  await Promise.all([probeA, probeB].map((s) => new Promise<void>((r) => s.close(r))));
  const a = await DgramNetBackend.open({
    kind: "unicast",
    local: { host: "127.0.0.1", port: pa },
    remote: { host: "127.0.0.1", port: pb },
  });
  const b = await DgramNetBackend.open({
    kind: "unicast",
    local: { host: "127.0.0.1", port: pb },
    remote: { host: "127.0.0.1", port: pa },
  });
  return { a, b };
}

test("unicast: one frame per datagram both ways, with counters", async (t) => {
  const { a, b } = await pair();
  t.after(() => {
    a.close();
    b.close();
  });
  const ca = collector(a);
  const cb = collector(b);
  a.send(frame(1));
  a.send(frame(2, 1514));
  b.send(frame(3, 9018));
  await cb.next(2);
  await ca.next(1);
  assert.deepEqual(cb.got, [frame(1), frame(2, 1514)]);
  assert.deepEqual(ca.got, [frame(3, 9018)]);
  assert.equal(a.counters.txBytes, 60 + 1514);
  assert.equal(b.counters.rxFrames, 2);
  assert.equal(a.carrier, true);
});

test("hostile datagrams (runt, empty, oversize) are dropped and counted; good ones still pass", async (t) => {
  const { a, b } = await pair();
  t.after(() => {
    a.close();
    b.close();
  });
  const cb = collector(b);
  const raw = createSocket("udp4");
  t.after(() => raw.close());
  const to = b.boundAddress.port;
  const send = (d: Uint8Array) =>
    new Promise<void>((r, j) => raw.send(d, to, "127.0.0.1", (e) => (e ? j(e) : r())));
  await send(new Uint8Array(0));
  await send(new Uint8Array(13));
  await send(frame(4));
  await cb.next(1);
  assert.equal(b.counters.malformed, 2);
  // Guest frames that are not frames never reach the wire.
  a.send(new Uint8Array(10));
  a.send(new Uint8Array(MAX_STREAM_FRAME + 1));
  assert.equal(a.counters.txDropped, 2);
  assert.equal(a.counters.txFrames, 0);
});

test("a NIC without room: datagrams are held up to MAX_HELD, the rest counted, resume delivers in order", async (t) => {
  const { a, b } = await pair();
  t.after(() => {
    a.close();
    b.close();
  });
  let room = 0;
  const nic: NetPeer = { canReceive: () => room > 0, writable: () => {}, carrier: () => {} };
  b.setPeer(nic);
  const got: number[] = [];
  b.onReceive((f) => {
    room--;
    got.push(f[0] | (f[1] << 8));
  });
  const total = MAX_HELD + 50;
  // Sent in bursts the sender's flow control allows; the last one tells us all were handed over.
  for (let i = 0; i < total; i++) {
    const f = frame(0);
    f[0] = i & 0xff;
    f[1] = i >> 8;
    while (a.send(f) === false) await new Promise<void>((r) => setImmediate(r));
  }
  // Loopback UDP may lose datagrams in the kernel under load; wait until all that arrived are accounted.
  const arrived = () => b.counters.rxDropped + heldCount(b);
  while (arrived() < total && b.counters.rxDropped === 0) await new Promise<void>((r) => setImmediate(r));
  assert.equal(heldCount(b), MAX_HELD, "the held queue is full and no larger");
  assert.ok(b.counters.rxDropped > 0, "beyond it, datagrams are dropped and counted");
  room = Number.POSITIVE_INFINITY;
  b.resumeReceive();
  assert.equal(got.length, MAX_HELD);
  assert.deepEqual(
    got,
    [...got].sort((x, y) => x - y),
    "in arrival order",
  );
});

test("multicast: members on one host hear each other, never themselves", async (t) => {
  const group = "239.255.77.1";
  const probe = createSocket("udp4");
  await new Promise<void>((r) => probe.bind(0, r));
  const port = probe.address().port;
  probe.close();
  let m1: DgramNetBackend;
  try {
    m1 = await DgramNetBackend.open({ kind: "mcast", group, port });
  } catch (e) {
    return t.skip(`multicast unavailable here: ${(e as Error).message}`);
  }
  const m2 = await DgramNetBackend.open({ kind: "mcast", group, port });
  t.after(() => {
    m1.close();
    m2.close();
  });
  const c1 = collector(m1);
  const c2 = collector(m2);
  m1.send(frame(1));
  await c2.next(1);
  m2.send(frame(2));
  await c1.next(1);
  // m1's own frame came back to it on loopback and was skipped: it heard only m2's.
  m1.send(frame(3));
  await c2.next(2);
  m2.send(frame(4));
  await c1.next(2);
  assert.deepEqual(c1.got, [frame(2), frame(4)]);
  assert.deepEqual(c2.got, [frame(1), frame(3)]);
});

test("bad addresses are UserErrors", async () => {
  await assert.rejects(
    DgramNetBackend.open({ kind: "mcast", group: "10.0.0.1", port: 5 }),
    (e: unknown) => e instanceof UserError && /not an IPv4 multicast address/.test(e.message),
  );
  await assert.rejects(
    DgramNetBackend.open({
      kind: "unicast",
      local: { host: "localhost", port: 0 },
      remote: { host: "127.0.0.1", port: 9 },
    }),
    /not an IP address/,
  );
  await assert.rejects(
    DgramNetBackend.open({
      kind: "unicast",
      local: { host: "127.0.0.1", port: 0 },
      remote: { host: "127.0.0.1", port: 0 },
    }),
    /UDP port must be 1..65535/,
  );
});

/** Frames waiting in the backend (its private queue), for the test's bound check. */
function heldCount(b: DgramNetBackend): number {
  return b.heldFrames;
}
