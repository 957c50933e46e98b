/** Split-virtqueue and transport tests: well-formed chains, notification suppression, and hostile drivers. */

import assert from "node:assert/strict";
import { test } from "node:test";
import type { SavedState } from "../../base/state.js";
import { TWO_POW_32 } from "../../base/u64.js";
import { GuestRam } from "../../memory/guest-ram.js";
import type { AccessSize } from "../../memory/mmio.js";
import { FakeIrq } from "../testing.js";
import * as C from "./constants.js";
import type { VirtioDevice, VirtioHost } from "./device.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import type { DescriptorChain } from "./queue.js";
import { TestDriver } from "./testing.js";

const RAM_BASE = 0x80000000;
const RAM_SIZE = 1 << 20;

/** A device that records each chain it pops, fills its writable part with 0xAA and returns it. */
class RecordingDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly queueMaxSizes = [16];
  readonly configSize = 4;
  host: VirtioHost | null = null;
  chains: { head: number; read: Uint8Array; writeBytes: number }[] = [];
  deviceFeatures(bank: number): number {
    return bank === 0 ? 1 << 3 : 0;
  }
  readConfig(offset: number, _size: AccessSize): number {
    return offset === 0 ? 0x12345678 : 0;
  }
  writeConfig(): void {}
  attach(host: VirtioHost): void {
    this.host = host;
  }
  activate(): void {}
  reset(): void {
    this.chains = [];
  }
  notify(index: number): void {
    const host = this.host!;
    const q = host.queue(index);
    for (let c: DescriptorChain | null = q.pop(); c !== null; c = q.pop()) {
      const read = new Uint8Array(c.readBytes);
      c.read(0, read);
      c.write(0, new Uint8Array(c.writeBytes).fill(0xaa));
      this.chains.push({ head: c.head, read, writeBytes: c.writeBytes });
      q.push(c.head, c.writeBytes);
    }
    host.usedBuffers(index);
  }
  save(): SavedState {
    return { kind: "recording", version: 1 };
  }
  restore(): void {}
}

function setup(opts: { accept?: (bank: number, offered: number) => number } = {}) {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  const irq = new FakeIrq();
  const dev = new RecordingDevice();
  const errors: string[] = [];
  const t = new VirtioMmioTransport({ device: dev, ram, irq, onError: (r) => errors.push(r) });
  const d = new TestDriver(t, ram);
  assert.equal(d.init(opts), true);
  return { ram, irq, dev, t, d, errors };
}

/** Expect the device to have flagged DEVICE_NEEDS_RESET with a config-change interrupt, and no use of the chain. */
function assertBroken(s: ReturnType<typeof setup>, what: RegExp): void {
  assert.equal(s.d.needsReset(), true, "DEVICE_NEEDS_RESET set");
  assert.equal(s.irq.level, true);
  assert.equal(s.d.reg(C.VIRTIO_MMIO_INTERRUPT_STATUS) & C.VIRTIO_MMIO_INT_CONFIG, C.VIRTIO_MMIO_INT_CONFIG);
  assert.match(s.errors.join("; "), what);
  assert.equal(s.d.takeUsed(0).length, 0, "nothing returned to the used ring");
}

test("identification registers", () => {
  const { d } = setup();
  assert.equal(d.reg(C.VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
  assert.equal(d.reg(C.VIRTIO_MMIO_VERSION), 2);
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_ID), 42);
  assert.equal(d.t.read(0x100, 4), 0x12345678);
  assert.equal(d.t.read(0x104, 4), 0, "beyond config space reads zero");
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES), 1, "VIRTIO_F_VERSION_1");
  d.setReg(C.VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
  assert.equal(d.reg(C.VIRTIO_MMIO_DEVICE_FEATURES), (1 << 28) | (1 << 29) | (1 << 3));
  d.setReg(C.VIRTIO_MMIO_QUEUE_SEL, 1);
  assert.equal(d.reg(C.VIRTIO_MMIO_QUEUE_NUM_MAX), 0, "queue 1 does not exist");
  assert.equal(d.reg(C.VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
});

test("a direct chain is split into readable then writable parts and returned in the used ring", () => {
  const s = setup();
  const { head, addrs } = s.d.add(0, [
    { data: Uint8Array.of(1, 2, 3) },
    { data: Uint8Array.of(4, 5) },
    { writable: 7 },
    { writable: 1 },
  ]);
  s.d.kick(0);
  assert.equal(s.dev.chains.length, 1);
  assert.deepEqual([...s.dev.chains[0].read], [1, 2, 3, 4, 5]);
  assert.equal(s.dev.chains[0].writeBytes, 8);
  assert.deepEqual(s.d.takeUsed(0), [{ id: head, len: 8 }]);
  assert.deepEqual([...s.d.bytes(addrs[2], 7)], new Array(7).fill(0xaa));
  assert.equal(s.irq.level, true);
  assert.equal(s.d.ack(), C.VIRTIO_MMIO_INT_VRING);
  assert.equal(s.irq.level, false);
  assert.equal(s.d.needsReset(), false);
});

test("an indirect chain is followed when VIRTIO_RING_F_INDIRECT_DESC is negotiated", () => {
  const s = setup();
  const { head } = s.d.add(0, [{ data: Uint8Array.of(9, 8) }, { writable: 4 }], { indirect: true });
  s.d.kick(0);
  assert.deepEqual([...s.dev.chains[0].read], [9, 8]);
  assert.deepEqual(s.d.takeUsed(0), [{ id: head, len: 4 }]);
});

test("indirect descriptors without the negotiated feature break the device", () => {
  const s = setup({ accept: (bank, offered) => (bank === 0 ? offered & ~(1 << 28) : offered) });
  s.d.add(0, [{ writable: 4 }], { indirect: true });
  s.d.kick(0);
  assertBroken(s, /INDIRECT_DESC/);
});

test("a descriptor outside RAM breaks the device", () => {
  for (const addr of [0, RAM_BASE + RAM_SIZE - 4, 0xffffffff_fffff000, 2 ** 60]) {
    const s = setup();
    const q = s.d.queues[0];
    s.d.writeDesc(q.desc, 0, addr, 16, C.VIRTQ_DESC_F_WRITE, 0);
    s.d.publish(0, 0);
    s.d.kick(0);
    assertBroken(s, /outside RAM/);
  }
});

test("a length that overflows past RAM breaks the device", () => {
  const s = setup();
  const q = s.d.queues[0];
  s.d.writeDesc(q.desc, 0, RAM_BASE + 0x1000, 0xffffffff, 0, 0);
  s.d.publish(0, 0);
  s.d.kick(0);
  assertBroken(s, /outside RAM/);
});

test("a looping chain is detected instead of hanging", () => {
  const s = setup();
  const q = s.d.queues[0];
  const buf = s.d.alloc(16);
  s.d.writeDesc(q.desc, 0, buf, 1, C.VIRTQ_DESC_F_NEXT, 1);
  s.d.writeDesc(q.desc, 1, buf, 1, C.VIRTQ_DESC_F_NEXT, 0);
  s.d.publish(0, 0);
  s.d.kick(0);
  assertBroken(s, /loop/);
});

test("a self-loop inside an indirect table is detected", () => {
  const s = setup();
  const q = s.d.queues[0];
  const table = s.d.alloc(32);
  const buf = s.d.alloc(16);
  s.d.writeDesc(table, 0, buf, 1, C.VIRTQ_DESC_F_NEXT, 1);
  s.d.writeDesc(table, 1, buf, 1, C.VIRTQ_DESC_F_NEXT, 1);
  s.d.writeDesc(q.desc, 0, table, 32, C.VIRTQ_DESC_F_INDIRECT, 0);
  s.d.publish(0, 0);
  s.d.kick(0);
  assertBroken(s, /loop/);
});

test("a readable descriptor after a writable one breaks the device", () => {
  const s = setup();
  const q = s.d.queues[0];
  const buf = s.d.alloc(16);
  s.d.writeDesc(q.desc, 0, buf, 4, C.VIRTQ_DESC_F_WRITE | C.VIRTQ_DESC_F_NEXT, 1);
  s.d.writeDesc(q.desc, 1, buf, 4, 0, 0);
  s.d.publish(0, 0);
  s.d.kick(0);
  assertBroken(s, /readable descriptor after a writable/);
});

test("head and next indices beyond the queue size break the device", () => {
  const s = setup();
  s.d.publish(0, 16);
  s.d.kick(0);
  assertBroken(s, /head 16/);

  const s2 = setup();
  const q = s2.d.queues[0];
  s2.d.writeDesc(q.desc, 0, s2.d.alloc(4), 4, C.VIRTQ_DESC_F_NEXT, 999);
  s2.d.publish(0, 0);
  s2.d.kick(0);
  assertBroken(s2, /next index 999/);
});

test("an available index running more than a ring ahead breaks the device", () => {
  const s = setup();
  const q = s.d.queues[0];
  s.ram.view.setUint16(q.avail + 2 - RAM_BASE, 100, true);
  s.d.kick(0);
  assertBroken(s, /ahead/);
});

test("malformed indirect tables break the device", () => {
  const cases: [string, (s: ReturnType<typeof setup>) => void, RegExp][] = [
    [
      "length not a multiple of 16",
      (s) => s.d.writeDesc(s.d.queues[0].desc, 0, s.d.alloc(32), 20, C.VIRTQ_DESC_F_INDIRECT, 0),
      /indirect table length 20/,
    ],
    [
      "zero length",
      (s) => s.d.writeDesc(s.d.queues[0].desc, 0, s.d.alloc(32), 0, C.VIRTQ_DESC_F_INDIRECT, 0),
      /indirect table length 0/,
    ],
    [
      "table outside RAM",
      (s) => s.d.writeDesc(s.d.queues[0].desc, 0, RAM_BASE + RAM_SIZE - 16, 32, C.VIRTQ_DESC_F_INDIRECT, 0),
      /indirect table outside RAM/,
    ],
    [
      "INDIRECT together with NEXT",
      (s) =>
        s.d.writeDesc(
          s.d.queues[0].desc,
          0,
          s.d.alloc(32),
          32,
          C.VIRTQ_DESC_F_INDIRECT | C.VIRTQ_DESC_F_NEXT,
          1,
        ),
      /indirect descriptor with NEXT/,
    ],
    [
      "nested indirect",
      (s) => {
        const inner = s.d.alloc(16);
        const outer = s.d.alloc(16);
        s.d.writeDesc(inner, 0, s.d.alloc(4), 4, C.VIRTQ_DESC_F_WRITE, 0);
        s.d.writeDesc(outer, 0, inner, 16, C.VIRTQ_DESC_F_INDIRECT, 0);
        s.d.writeDesc(s.d.queues[0].desc, 0, outer, 16, C.VIRTQ_DESC_F_INDIRECT, 0);
      },
      /nested indirect/,
    ],
  ];
  for (const [name, build, msg] of cases) {
    const s = setup();
    build(s);
    s.d.publish(0, 0);
    s.d.kick(0);
    assert.doesNotThrow(() => assertBroken(s, msg), name);
  }
});

test("bad queue sizes and ring placements are refused at QueueReady", () => {
  const cases: [number, number, RegExp][] = [
    [12, RAM_BASE + 0x1000, /bad queue size 12/],
    [32, RAM_BASE + 0x1000, /bad queue size 32/],
    [0, RAM_BASE + 0x1000, /bad queue size 0/],
    [8, RAM_BASE + 0x1008, /misaligned/],
    [8, RAM_BASE + RAM_SIZE - 64, /descriptor table outside RAM/],
    [8, 0x1000, /descriptor table outside RAM/],
  ];
  for (const [size, desc, msg] of cases) {
    const ram = new GuestRam(RAM_BASE, RAM_SIZE);
    const irq = new FakeIrq();
    const errors: string[] = [];
    const t = new VirtioMmioTransport({
      device: new RecordingDevice(),
      ram,
      irq,
      onError: (r) => errors.push(r),
    });
    const d = new TestDriver(t, ram);
    d.setReg(C.VIRTIO_MMIO_QUEUE_SEL, 0);
    d.setReg(C.VIRTIO_MMIO_QUEUE_NUM, size);
    d.setReg(C.VIRTIO_MMIO_QUEUE_DESC_LOW, desc % TWO_POW_32);
    d.setReg(C.VIRTIO_MMIO_QUEUE_DRIVER_LOW, RAM_BASE + 0x4000);
    d.setReg(C.VIRTIO_MMIO_QUEUE_DEVICE_LOW, RAM_BASE + 0x5000);
    d.setReg(C.VIRTIO_MMIO_QUEUE_READY, 1);
    assert.equal(d.reg(C.VIRTIO_MMIO_QUEUE_READY), 0);
    assert.equal(d.needsReset(), true);
    assert.match(errors.join(";"), msg);
  }
});

test("after DEVICE_NEEDS_RESET nothing is processed until the driver resets", () => {
  const s = setup();
  s.d.publish(0, 99);
  s.d.kick(0);
  assert.equal(s.d.needsReset(), true);
  // A later good request is ignored while broken.
  s.d.add(0, [{ writable: 2 }]);
  s.d.kick(0);
  assert.equal(s.dev.chains.length, 0);
  // Writing status keeps the device-owned bit.
  s.d.setReg(C.VIRTIO_MMIO_STATUS, 0x0f);
  assert.equal(s.d.needsReset(), true);
  // Reset and renegotiate: works again.
  assert.equal(s.d.init(), true);
  assert.equal(s.d.needsReset(), false);
  assert.equal(s.irq.level, false);
  s.d.add(0, [{ writable: 2 }]);
  s.d.kick(0);
  assert.equal(s.dev.chains.length, 1);
});

test("FEATURES_OK is refused for unknown bits or a legacy driver", () => {
  const ram = new GuestRam(RAM_BASE, RAM_SIZE);
  const t = new VirtioMmioTransport({ device: new RecordingDevice(), ram, irq: new FakeIrq() });
  const d = new TestDriver(t, ram);
  assert.equal(d.init({ accept: (bank, offered) => (bank === 1 ? 0 : offered) }), false);
  assert.equal(d.init({ accept: (bank, offered) => (bank === 0 ? offered | (1 << 7) : offered) }), false);
  assert.equal(d.init(), true);
});

test("without EVENT_IDX, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses the interrupt", () => {
  const s = setup({ accept: (bank, offered) => (bank === 0 ? offered & ~(1 << 29) : offered) });
  s.ram.view.setUint16(s.d.queues[0].avail - RAM_BASE, C.VIRTQ_AVAIL_F_NO_INTERRUPT, true);
  s.d.add(0, [{ writable: 2 }]);
  s.d.kick(0);
  assert.equal(s.d.takeUsed(0).length, 1);
  assert.equal(s.irq.level, false);
  s.ram.view.setUint16(s.d.queues[0].avail - RAM_BASE, 0, true);
  s.d.add(0, [{ writable: 2 }]);
  s.d.kick(0);
  assert.equal(s.irq.level, true);
});

test("with EVENT_IDX the device honours used_event and publishes avail_event", () => {
  const s = setup();
  const q = s.d.queues[0];
  const usedEvent = q.avail + 4 + 2 * q.size - RAM_BASE;
  const availEvent = q.used + 4 + 8 * q.size - RAM_BASE;
  // First completion always interrupts (nothing signalled yet).
  s.d.add(0, [{ writable: 1 }]);
  s.d.kick(0);
  assert.equal(s.irq.level, true);
  s.d.ack();
  assert.equal(s.ram.view.getUint16(availEvent, true), 1);
  // used_event = 5: the driver wants an interrupt only once used idx passes 5.
  s.ram.view.setUint16(usedEvent, 5, true);
  s.d.add(0, [{ writable: 1 }]);
  s.d.kick(0);
  assert.equal(s.irq.level, false, "used idx 2 has not crossed used_event 5");
  for (let i = 0; i < 4; i++) s.d.add(0, [{ writable: 1 }]);
  s.d.kick(0);
  assert.equal(s.irq.level, true, "used idx went 2→6, crossing 5");
  assert.equal(s.ram.view.getUint16(availEvent, true), 6);
});

test("save/restore carries queue indices and negotiated features", () => {
  const s = setup();
  s.d.add(0, [{ writable: 3 }]);
  s.d.add(0, [{ writable: 3 }]);
  s.d.kick(0);
  const saved = s.t.save();
  // The same RAM contents with a fresh transport: restore, then continue the ring.
  const irq2 = new FakeIrq();
  const dev2 = new RecordingDevice();
  const t2 = new VirtioMmioTransport({ device: dev2, ram: s.ram, irq: irq2 });
  t2.restore(saved);
  assert.equal(irq2.level, true, "pending interrupt status restored");
  assert.equal(t2.read(C.VIRTIO_MMIO_STATUS, 4) & C.VIRTIO_STATUS_DRIVER_OK, C.VIRTIO_STATUS_DRIVER_OK);
  const d2 = new TestDriver(t2, s.ram);
  // Re-use the driver-side view of the rings.
  d2.queues.push(s.d.queues[0]);
  d2.heap = s.d.alloc(0);
  d2.add(0, [{ data: Uint8Array.of(7) }], { indirect: true });
  d2.kick(0);
  assert.equal(dev2.chains.length, 1, "only the new request is seen: last_avail_idx was restored");
  assert.deepEqual([...dev2.chains[0].read], [7]);
  assert.deepEqual(
    d2.takeUsed(0).map((u) => u.len),
    [3, 3, 0],
  );
  assert.equal(t2.queue(0).lastAvailIdx, 3);
  assert.equal(t2.queue(0).usedIdx, 3);
});

test("random register and ring garbage never throws out of MMIO", () => {
  let seed = 12345;
  const rnd = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed;
  };
  for (let round = 0; round < 200; round++) {
    const s = setup();
    // Scribble over the rings and some descriptors.
    const q = s.d.queues[0];
    for (let i = 0; i < 64; i++) {
      const area = [q.desc, q.avail, q.used][rnd() % 3];
      s.ram.u8[area - RAM_BASE + (rnd() % 64)] = rnd() & 0xff;
    }
    for (let i = 0; i < 50; i++) {
      const off = (rnd() % 0x110) & ~3;
      const sizes: AccessSize[] = [1, 2, 4];
      const size = sizes[rnd() % 3];
      assert.doesNotThrow(() => {
        if (rnd() & 1) s.t.write(off, size, rnd());
        else s.t.read(off, size);
        s.t.write(C.VIRTIO_MMIO_QUEUE_NOTIFY, 4, 0);
      });
    }
  }
});
