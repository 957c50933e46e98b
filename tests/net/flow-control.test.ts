/**
 * The flow-control handshake between a virtio-net device and a stream backend on a real `tvisor switch`
 * socket (io/net-backend.ts: QEMU's can_receive / qemu_flush_queued_packets, and send's congestion with
 * writable()). The guest is the unit-test driver, so every step is an event the test causes; socket I/O
 * is awaited, never timed.
 * - receive: a sender floods the switch while the guest has few receive buffers; the backend must stop
 *   reading, hold what it decoded, and resume each time the guest posts buffers, until every frame is in,
 *   in order, none lost.
 * - transmit: a backend that loses its peer while congested must release the NIC (writable), or the
 *   guest's transmit queue stays stopped for good, also after the peer is back (seen as one direction of
 *   a VM-to-VM transfer over a switch stopping while the other went on).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { FakeIrq } from "../../src/devices/testing.js";
import { VirtioMmioTransport } from "../../src/devices/virtio/mmio-transport.js";
import { VIRTIO_NET_HDR_BYTES, VirtioNet } from "../../src/devices/virtio/net.js";
import { TestDriver } from "../../src/devices/virtio/testing.js";
import { GuestRam } from "../../src/memory/guest-ram.js";
import { StreamNetBackend } from "../../src/net/node/stream-socket.js";
import { SwitchServer, switchSocketPath } from "../../src/net/node/switch-server.js";
import { encodeStreamFrame } from "../../src/net/stream-framing.js";
import { HANG_GUARD_MS } from "../boot/guest-session.js";

const MAC_RX = Uint8Array.of(0x52, 0x54, 0, 0xfc, 0, 1);
const MAC_TX = Uint8Array.of(0x52, 0x54, 0, 0xfc, 0, 2);
/** A receive buffer: virtio header + a full-size Ethernet frame (§5.1.6.3.1). */
const RX_BUF = VIRTIO_NET_HDR_BYTES + 1514;

function frame(dst: Uint8Array, src: Uint8Array, seq: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // IEEE 802 local experimental EtherType
  new DataView(f.buffer).setUint32(14, seq);
  return f;
}

/** A NIC on `backend` driven by the test driver: 8 MiB of guest RAM, 256-entry queues, no merging. */
function guestNic(backend: StreamNetBackend) {
  const ram = new GuestRam(0x80000000, 8 << 20);
  const net = new VirtioNet({ backend, mac: MAC_RX });
  const t = new VirtioMmioTransport({ device: net, ram, irq: new FakeIrq() });
  const d = new TestDriver(t, ram);
  d.init({ queueSize: 256 });
  return { net, d, ram };
}

/** Resolve once `cond()` holds, checking after each turn of the event loop; HANG_GUARD_MS is only a hang guard. */
async function until(cond: () => boolean, what: string): Promise<void> {
  const limit = Date.now() + HANG_GUARD_MS;
  while (!cond()) {
    if (Date.now() > limit) throw new Error(`hang guard: still waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 1));
  }
}

function connectRaw(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = createConnection(path, () => resolve(s));
    s.once("error", reject);
  });
}

test("receive: the backend holds frames while the guest ring is full and resumes as buffers come back", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-flow-"));
  const path = switchSocketPath(dir, "fc");
  const sw = await SwitchServer.open({ name: "fc", path });
  const backend = await StreamNetBackend.open({ mode: "connect", address: { type: "unix", path } });
  const sender = await connectRaw(path);
  t.after(() => {
    sender.destroy();
    backend.close();
    sw.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let resumes = 0;
  const resume = backend.resumeReceive.bind(backend);
  backend.resumeReceive = () => {
    resumes++;
    resume();
  };
  const { net, d } = guestNic(backend);
  await until(() => sw.size === 2, "the switch to accept both connections");

  // 2,000 frames: far more than the ring (256) plus what the NIC queues before saying no (32), far less
  // than the switch's per-port backlog, so none may be lost anywhere.
  const N = 2000;
  sender.write(
    Buffer.concat(Array.from({ length: N }, (_, i) => encodeStreamFrame(frame(MAC_RX, MAC_TX, i)))),
  );

  const seen: number[] = [];
  const addrOf = new Map<number, number>();
  let posted = 0;
  /** A slow guest: 16 buffers at a time, posted only once the NIC has filled all it had. */
  const post = (n: number): void => {
    for (let i = 0; i < n; i++) {
      const { head, addrs } = d.add(0, [{ writable: RX_BUF }]);
      addrOf.set(head, addrs[0]);
    }
    posted += n;
    d.kick(0);
  };
  post(16);
  while (seen.length < N) {
    await until(
      () => net.counters.rxFrames === posted,
      `frame ${net.counters.rxFrames + 1} of ${N} (${posted} buffers posted; drops: NIC ${net.counters.rxDropped}, ` +
        `backend ${backend.counters.rxDropped}, switch ${sw.counters.backlogDrops})`,
    );
    for (const u of d.takeUsed(0)) {
      const at = addrOf.get(u.id) ?? 0;
      seen.push(new DataView(d.bytes(at + VIRTIO_NET_HDR_BYTES + 14, 4).buffer).getUint32(0));
    }
    if (posted < N) post(Math.min(16, N - posted));
  }
  assert.deepEqual(
    seen,
    Array.from({ length: N }, (_, i) => i),
    "every frame, in order",
  );
  assert.equal(net.counters.rxDropped, 0);
  assert.equal(backend.counters.rxDropped, 0);
  assert.equal(sw.counters.backlogDrops, 0);
  assert.ok(resumes > 0, "the backend was held back and resumed at least once");
});

test("transmit: a peer lost while the backend is congested releases the NIC; the queue moves again after", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-flow-"));
  const path = join(dir, "wire.sock");
  const backend = await StreamNetBackend.open({ mode: "listen", address: { type: "unix", path } });
  const peers: Socket[] = [];
  t.after(() => {
    for (const p of peers) p.destroy();
    backend.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const { net, d } = guestNic(backend);
  // A peer that reads nothing: the socket's buffers fill and send() reports congestion.
  const stuck = await connectRaw(path);
  stuck.pause();
  peers.push(stuck);
  await until(() => backend.linkUp, "the backend to accept the peer");
  const Q = 64;
  for (let i = 0; i < Q; i++)
    d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: frame(MAC_TX, MAC_RX, i, 60_000) }]);
  d.kick(1);
  const sent = d.takeUsed(1).length;
  assert.ok(sent > 0 && sent < Q, `transmit stopped on congestion (${sent} of ${Q} sent)`);

  stuck.destroy();
  await until(() => !backend.linkUp, "the backend to see the peer gone");
  // QEMU drops a stopped NIC's transmit queue while the link is down (virtio_net_drop_tx_queue_data):
  // the rest must come back to the guest, counted as dropped, not stay stuck behind the old congestion.
  assert.equal(d.takeUsed(1).length, Q - sent, "the rest of the queue was returned");
  assert.equal(net.counters.txFrames + net.counters.txDropped, Q);

  const fresh = await connectRaw(path);
  peers.push(fresh);
  let got = Buffer.alloc(0);
  fresh.on("data", (b: Buffer) => {
    got = Buffer.concat([got, b]);
  });
  await until(() => backend.linkUp, "the backend to accept the new peer");
  const last = frame(MAC_TX, MAC_RX, Q);
  d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: last }]);
  d.kick(1);
  await until(() => got.length >= 4 + last.length, "the frame at the new peer");
  assert.deepEqual(new Uint8Array(got.subarray(0, 4 + last.length)), encodeStreamFrame(last));
});
