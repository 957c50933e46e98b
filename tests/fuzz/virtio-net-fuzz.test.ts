/**
 * Hostile-guest fuzz of virtio-net (virtio 1.2 §5.1) through the MMIO transport: random descriptor chains
 * (loops, zero lengths, write-only transmit buffers, read-only receive buffers, lengths and addresses
 * beyond RAM, bogus indirect tables), headers shorter than virtio_net_hdr, runt and oversize frames,
 * random virtio_net_hdr offload fields over real and broken TCP/IP headers, receive rings of tiny
 * buffers that a frame would need hundreds of (num_buffers), and hostile frames from the backend.
 * A fixed seed and a fixed number of cases (no wall time), so every failure replays. The host never
 * throws, drops are counted, only device-writable buffers are written, and after every storm a
 * reinitialised driver still moves a valid frame both ways.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { prng } from "../../src/base/testing.js";
import { payloadOf, tcpFrame } from "../../src/devices/packet/testing.js";
import { FakeIrq } from "../../src/devices/testing.js";
import * as C from "../../src/devices/virtio/constants.js";
import { VirtioMmioTransport } from "../../src/devices/virtio/mmio-transport.js";
import {
  MAX_FRAME,
  VIRTIO_NET_F_MRG_RXBUF,
  VIRTIO_NET_HDR_BYTES,
  VirtioNet,
} from "../../src/devices/virtio/net.js";
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
} from "../../src/devices/virtio/net-offload.js";
import { TestDriver } from "../../src/devices/virtio/testing.js";
import type { NetBackend } from "../../src/io/net-backend.js";
import { GuestRam } from "../../src/memory/guest-ram.js";

const RAM_BASE = 0x80000000;
const RAM_SIZE = 2 << 20;
const RAM_END = RAM_BASE + RAM_SIZE;
const CASES = 3000;
const RX = 0;
const TX = 1;
const MAC = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x42);
const PEER = Uint8Array.of(0x52, 0x54, 0, 0, 0, 0x43);

/** A backend that records what the NIC sends and can inject frames toward the guest. */
class RecordingNet implements NetBackend {
  sent: Uint8Array[] = [];
  handler: ((f: Uint8Array) => void) | null = null;
  send(frame: Uint8Array): boolean {
    this.sent.push(frame);
    return true;
  }
  onReceive(handler: (f: Uint8Array) => void): void {
    this.handler = handler;
  }
  close(): void {}
}

function fixture(mergeable: boolean) {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  const be = new RecordingNet();
  const net = new VirtioNet({ backend: be, mac: MAC, queueSize: 64 });
  // Why the device stopped (DEVICE_NEEDS_RESET): every reason must be a ring or chain the driver broke
  // (a VirtqueueError), never an exception out of the device's own code, which the transport would
  // otherwise turn into the same reset.
  const reasons: string[] = [];
  const t = new VirtioMmioTransport({
    device: net,
    ram,
    irq: new FakeIrq(),
    onError: (r) => reasons.push(r),
  });
  const d = new TestDriver(t, ram);
  const accept = (bank: number, offered: number) =>
    bank === 0 && !mergeable ? offered & ~(1 << VIRTIO_NET_F_MRG_RXBUF) : offered;
  /** Reset and renegotiate with the rings where they were; returns the heap mark after them. */
  const init = (): number => {
    d.heap = RAM_BASE + 0x1000;
    assert.equal(d.init({ accept, queueSize: 64 }), true);
    return d.heap;
  };
  return { ram, be, net, t, d, init, reasons };
}

/** A small Ethernet frame to MAC with a recognisable body. */
function plainFrame(tag: number): Uint8Array {
  const f = new Uint8Array(60);
  f.set(MAC, 0);
  f.set(PEER, 6);
  f[12] = 0x88;
  f[13] = 0xb5; // IEEE 802 local experimental EtherType
  new DataView(f.buffer).setUint32(14, tag);
  return f;
}

/** After a storm: a fresh driver sends one frame out and takes one frame in, byte for byte. */
function checkStillWorks(fx: ReturnType<typeof fixture>, tag: number): void {
  const { d, be } = fx;
  fx.init();
  const before = be.sent.length;
  const out = plainFrame(tag);
  d.add(TX, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: out }]);
  d.kick(TX);
  assert.equal(be.sent.length, before + 1, "a valid frame goes out");
  assert.deepEqual(be.sent[be.sent.length - 1], out);
  const r = d.add(RX, [{ writable: 2048 }]);
  d.kick(RX);
  const into = plainFrame(tag ^ 0xffff);
  be.handler?.(into);
  const used = d.takeUsed(RX);
  assert.deepEqual(used, [{ id: r.head, len: VIRTIO_NET_HDR_BYTES + into.length }], "a valid frame comes in");
  assert.deepEqual(d.bytes(r.addrs[0] + VIRTIO_NET_HDR_BYTES, into.length), into);
  assert.equal(d.needsReset(), false);
}

for (const mergeable of [true, false]) {
  test(`virtio-net under ${CASES} hostile guest cases (${mergeable ? "MRG_RXBUF" : "one buffer per frame"})`, () => {
    const fx = fixture(mergeable);
    const { ram, be, net, d } = fx;
    const next = prng(mergeable ? 0x5eed_0001 : 0x5eed_0002);
    const pick = <T>(xs: readonly T[]): T => xs[next() % xs.length];
    const chance = (percent: number) => next() % 100 < percent;
    let mark = 0;
    let resets = 0;
    /**
     * Guest memory the device may write since the driver last initialised it: every buffer posted WRITE
     * (buffers stay posted across cases). Once an indirect table was posted, any buffer may be named.
     */
    const writable: [number, number][] = [];
    /** The work area the cases allocate from (the rings lie below `mark`): only WRITE buffers may change. */
    const WORK = 0x60000;
    let unchecked = false;
    const reinit = (): void => {
      mark = fx.init();
      writable.length = 0;
      unchecked = false;
    };
    reinit();

    /** An address: inside the work area, at RAM's edges, or outside RAM. */
    const addr = (): number =>
      pick([
        () => mark + (next() % 0x40000),
        () => RAM_END - (next() % 64),
        () => RAM_BASE - 1 - (next() % 4096),
        () => RAM_END + (next() % 0x100000),
        () => 0,
        () => 0xffff_ffff * 0x10000 + next(),
      ])();
    const len = (): number =>
      pick([0, 1, 11, 12, 13, 26, 60, 1514, 4096, 65553, 65554, 0xffffffff, next() % 3000]);

    for (let i = 0; i < CASES; i++) {
      d.heap = mark;
      /** What the device is asked to do once the driver has written everything. */
      let act = (): void => {};
      const kind = next() % 7;
      if (kind === 0 || kind === 1) {
        // Raw descriptors with random addresses, lengths, flags and next links (loops included).
        const qi = kind === 0 ? TX : RX;
        const q = d.queues[qi];
        const n = 1 + (next() % 4);
        const head = next() % q.size;
        for (let k = 0; k < n; k++) {
          const idx = k === 0 ? head : next() % q.size;
          let flags = next() & 7;
          if (chance(60)) flags &= ~C.VIRTQ_DESC_F_INDIRECT;
          const a = addr();
          const l = len();
          d.writeDesc(q.desc, idx, a, l, flags, next() % (q.size + 2));
          if (flags & C.VIRTQ_DESC_F_WRITE) writable.push([a, l]);
          if (flags & C.VIRTQ_DESC_F_INDIRECT) unchecked = true; // a table can name any buffer
        }
        d.publish(qi, head);
        const deliver = qi === RX && chance(70);
        act = () => {
          if (deliver) be.handler?.(plainFrame(i));
          d.kick(qi);
        };
      } else if (kind === 2) {
        // Well-formed chains with hostile contents: short headers, write-only tx, read-only rx.
        const shape = next() % 4;
        if (shape === 0) d.add(TX, [{ data: new Uint8Array(next() % VIRTIO_NET_HDR_BYTES) }]);
        else if (shape === 1)
          d.add(TX, [{ writable: 12 + (next() % 200) }]); // a device never writes tx buffers
        else if (shape === 2) d.add(RX, [{ data: new Uint8Array(1 + (next() % 2000)) }]);
        else
          d.add(TX, [{ data: new Uint8Array(VIRTIO_NET_HDR_BYTES) }, { data: new Uint8Array(next() % 14) }]);
        act = () => {
          if (shape === 2) be.handler?.(plainFrame(i));
          d.kick(shape === 2 ? RX : TX);
        };
      } else if (kind === 3) {
        // Offload headers: random fields over TCP super-frames, intact or with broken headers.
        const version = chance(50) ? 4 : 6;
        const big = chance(3);
        const payload = payloadOf(big ? 20000 + (next() % 45000) : next() % 4000, i);
        const f = tcpFrame({
          version,
          payload,
          partial: true,
          seq: next(),
          flags: next() & 0xff,
          ipOptions: version === 4 && chance(30) ? new Uint8Array(4 * (next() % 11)) : undefined,
          vlan: chance(10) ? next() & 0xfff : undefined,
        });
        const broken = chance(40) ? f.slice(0, next() % (f.length + 1)) : f;
        if (chance(30) && broken.length > 20)
          broken[14 + (next() % Math.min(60, broken.length - 14))] = next();
        const hdr = new Uint8Array(VIRTIO_NET_HDR_BYTES);
        const v = new DataView(hdr.buffer);
        hdr[0] = chance(80)
          ? VIRTIO_NET_HDR_F_NEEDS_CSUM | (next() & 0xfe & (chance(20) ? 0xff : 0))
          : next() & 0xff;
        hdr[1] = pick([
          version === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
          version === 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
          0,
          next() & 0xff,
        ]);
        v.setUint16(2, next() & 0xffff, true);
        // gso_size: 0, 1 only for small frames (65535 one-byte segments would be slow, not wrong), MSS-like, huge.
        v.setUint16(4, pick([0, big ? 536 : 1, 536, 1448, 9000, 0xffff, next() & 0xffff || 1]), true);
        v.setUint16(6, chance(50) ? (version === 4 ? 34 : 54) : next() & 0xffff, true);
        v.setUint16(8, chance(50) ? 16 : next() & 0xffff, true);
        v.setUint16(10, next() & 0xffff, true); // num_buffers must be 0 on transmit; a device ignores it
        d.add(TX, [{ data: hdr }, { data: broken }]);
        act = () => d.kick(TX);
      } else if (kind === 4) {
        // Receive rings of tiny or empty buffers, and frames that would need a huge num_buffers.
        const n = 1 + (next() % 70);
        for (let k = 0; k < n && k < 64; k++) {
          const w = next() % 16;
          const r = d.add(RX, [{ writable: w }]);
          writable.push([r.addrs[0], w]);
        }
        const size = pick([14, 60, 1514, 9000, 65553]);
        act = () => {
          d.kick(RX);
          be.handler?.(new Uint8Array(size).fill(0xa5));
        };
      } else if (kind === 5) {
        // Hostile frames from the backend: runts, oversize, random bytes, right after buffers are posted.
        const r = d.add(RX, [{ writable: 1526 + (next() % 70000) }]);
        writable.push([r.addrs[0], 72000]);
        const size = pick([0, 1, 13, 14, 60, 1514, 65553, 65554, 100000]);
        const f = new Uint8Array(size);
        for (let k = 0; k < Math.min(size, 64); k++) f[k] = next();
        act = () => {
          d.kick(RX);
          be.handler?.(f);
        };
      } else {
        // A reset in the middle of traffic, or a driver that simply starts over.
        const reset = chance(50);
        act = () => {
          if (reset) d.setReg(C.VIRTIO_MMIO_STATUS, 0);
        };
      }
      const from = mark - RAM_BASE;
      const before = ram.u8.slice(from, from + WORK);
      act();
      if (!unchecked) {
        const after = ram.u8.subarray(from, from + WORK);
        if (Buffer.compare(before, after) !== 0) {
          for (let k = 0; k < WORK; k++) {
            if (before[k] === after[k]) continue;
            const a = mark + k;
            assert.ok(
              writable.some(([w, l]) => a >= w && a < w + l),
              `case ${i}: the device wrote 0x${a.toString(16)}, not in a device-writable buffer`,
            );
          }
        }
      }
      if (kind === 6) reinit();
      if (d.needsReset()) {
        resets++;
        reinit();
      }
      for (const f of be.sent.splice(0)) {
        assert.ok(
          f.length >= 14 && f.length <= MAX_FRAME,
          `case ${i}: a ${f.length}-byte frame reached the backend`,
        );
      }
      if (i % 500 === 499) {
        checkStillWorks(fx, i);
        reinit();
      }
    }
    checkStillWorks(fx, CASES);
    assert.ok(net.counters.txDropped > 0, "malformed transmissions were dropped and counted");
    assert.ok(net.counters.rxDropped > 0, "hostile received frames were dropped and counted");
    assert.ok(net.offloads.malformed > 0, "bogus offload headers were refused and counted");
    assert.ok(
      net.offloads.superFrames > 0 && net.offloads.checksumsCompleted > 0,
      "good offloads still worked",
    );
    assert.ok(resets > 0, "broken rings put the device in DEVICE_NEEDS_RESET (and the driver recovered)");
    const ringFault =
      /loops or exceeds|outside RAM|indirect|beyond (queue size|table)|ahead of|readable descriptor after|exceeds 4 GiB/;
    const other = fx.reasons.filter((r) => !ringFault.test(r));
    assert.deepEqual(other, [], "every reset came from a malformed ring or chain");
  });
}
