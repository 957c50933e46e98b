/** virtio-net tests through the MMIO transport, including two NICs on a hub. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { NetBackend } from "../../io/net-backend.js";
import { GuestRam } from "../../memory/guest-ram.js";
import { NetHub } from "../../net/hub.js";
import { FakeIrq } from "../testing.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { VIRTIO_NET_HDR_BYTES, VirtioNet } from "./net.js";
import { TestDriver } from "./testing.js";

class FakeNet implements NetBackend {
  sent: Uint8Array[] = [];
  handler: ((f: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): void {
    this.sent.push(frame);
  }
  onReceive(handler: (f: Uint8Array) => void): void {
    this.handler = handler;
  }
  close(): void {}
}

const MAC_A = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xa);
const MAC_B = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0xb);

function frame(dst: Uint8Array, src: Uint8Array, payload: string): Uint8Array {
  const p = new TextEncoder().encode(payload);
  const f = new Uint8Array(14 + p.length);
  f.set(dst, 0);
  f.set(src, 6);
  f[12] = 0x08;
  f.set(p, 14);
  return f;
}

function nic(backend: NetBackend, mac: Uint8Array) {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  const net = new VirtioNet({ backend, mac });
  const t = new VirtioMmioTransport({ device: net, ram, irq });
  const d = new TestDriver(t, ram);
  return { ram, irq, net, t, d };
}

/** Send a frame from the guest: 12-byte zero header then the frame. */
function guestSend(d: TestDriver, f: Uint8Array): void {
  d.add(1, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: f }]);
  d.kick(1);
}

test("config: MAC and link status; features MAC and STATUS", () => {
  const { d, t } = nic(new FakeNet(), MAC_A);
  assert.equal(d.init(), true);
  assert.equal(d.reg(0x008), 1);
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5].map((i) => t.read(0x100 + i, 1)),
    [...MAC_A],
  );
  assert.equal(t.read(0x106, 2), 1);
  d.setReg(0x014, 0);
  assert.equal(d.reg(0x010) & ((1 << 5) | (1 << 16)), (1 << 5) | (1 << 16));
});

test("transmit strips the virtio_net_hdr", () => {
  const be = new FakeNet();
  const { d } = nic(be, MAC_A);
  d.init();
  const f = frame(MAC_B, MAC_A, "ping");
  guestSend(d, f);
  assert.equal(be.sent.length, 1);
  assert.deepEqual([...be.sent[0]], [...f]);
  assert.equal(d.takeUsed(1)[0].len, 0);
});

test("receive writes header (num_buffers = 1) and frame; frames wait for buffers; oversize frames are dropped", () => {
  const be = new FakeNet();
  const { d, net, irq } = nic(be, MAC_A);
  d.init();
  const f = frame(MAC_A, MAC_B, "pong");
  be.handler?.(f);
  assert.equal(d.takeUsed(0).length, 0, "no buffers yet");
  const r = d.add(0, [{ writable: 1526 }]);
  d.kick(0);
  const used = d.takeUsed(0);
  assert.deepEqual(used, [{ id: r.head, len: VIRTIO_NET_HDR_BYTES + f.length }]);
  const hdr = d.bytes(r.addrs[0], VIRTIO_NET_HDR_BYTES);
  assert.deepEqual([...hdr], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
  assert.deepEqual([...d.bytes(r.addrs[0] + VIRTIO_NET_HDR_BYTES, f.length)], [...f]);
  assert.equal(irq.level, true);
  // A frame larger than the posted buffer is dropped and the buffer stays available.
  const small = d.add(0, [{ writable: 30 }]);
  d.kick(0);
  be.handler?.(frame(MAC_A, MAC_B, "x".repeat(100)));
  assert.equal(net.rxDropped, 1);
  be.handler?.(frame(MAC_A, MAC_B, "ok"));
  assert.deepEqual(d.takeUsed(0), [{ id: small.head, len: 12 + 16 }]);
});

test("link down drops traffic and raises a config change", () => {
  const be = new FakeNet();
  const { d, net, t } = nic(be, MAC_A);
  d.init();
  d.ack();
  net.setLinkUp(false);
  assert.equal(t.read(0x106, 2), 0);
  assert.equal(d.ack() & 2, 2);
  guestSend(d, frame(MAC_B, MAC_A, "lost"));
  assert.equal(be.sent.length, 0);
});

test("a runt chain shorter than the header is returned without sending", () => {
  const be = new FakeNet();
  const { d } = nic(be, MAC_A);
  d.init();
  d.add(1, [{ data: new Uint8Array(4) }]);
  d.kick(1);
  assert.equal(be.sent.length, 0);
  assert.equal(d.takeUsed(1).length, 1);
  assert.equal(d.needsReset(), false);
});

test("two NICs talk through a hub", () => {
  const hub = new NetHub();
  const a = nic(hub.port(), MAC_A);
  const b = nic(hub.port(), MAC_B);
  a.d.init();
  b.d.init();
  const rb = b.d.add(0, [{ writable: 1526 }]);
  b.d.kick(0);
  const ra = a.d.add(0, [{ writable: 1526 }]);
  a.d.kick(0);
  const f = frame(Uint8Array.of(255, 255, 255, 255, 255, 255), MAC_A, "who has");
  guestSend(a.d, f);
  assert.equal(b.d.takeUsed(0)[0].len, 12 + f.length);
  assert.deepEqual([...b.d.bytes(rb.addrs[0] + 12, f.length)], [...f]);
  assert.equal(a.d.takeUsed(0).length, 0, "the sender does not hear itself");
  const reply = frame(MAC_A, MAC_B, "is at");
  guestSend(b.d, reply);
  assert.deepEqual([...a.d.bytes(ra.addrs[0] + 12, reply.length)], [...reply]);
});

test("save/restore keeps MAC and link state", () => {
  const { net, t } = nic(new FakeNet(), MAC_A);
  net.setLinkUp(false);
  const saved = t.save();
  const other = nic(new FakeNet(), MAC_B);
  other.t.restore(saved);
  assert.deepEqual([...other.net.mac], [...MAC_A]);
  assert.equal(other.t.read(0x106, 2), 0);
});
