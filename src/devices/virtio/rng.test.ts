/** virtio-rng tests through the MMIO transport. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { GuestRam } from "../../memory/guest-ram.js";
import { FakeIrq } from "../testing.js";
import { VirtioMmioTransport } from "./mmio-transport.js";
import { nodeEntropy } from "./node/entropy.js";
import { VirtioRng } from "./rng.js";
import { TestDriver } from "./testing.js";

function setup() {
  const ram = new GuestRam(0x80000000, 1 << 20);
  const irq = new FakeIrq();
  let counter = 0;
  const rng = new VirtioRng({
    entropy: (buf) => {
      for (let i = 0; i < buf.length; i++) buf[i] = counter++ & 0xff;
    },
  });
  const t = new VirtioMmioTransport({ device: rng, ram, irq });
  const d = new TestDriver(t, ram);
  assert.equal(d.init(), true);
  return { ram, irq, t, d };
}

test("device id 4 with one queue", () => {
  const { d } = setup();
  assert.equal(d.reg(0x008), 4);
  assert.equal(d.queues.length, 1);
});

test("writable buffers are filled from the entropy source, across segments", () => {
  const { d, irq } = setup();
  const { head, addrs } = d.add(0, [{ writable: 5 }, { writable: 3 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: head, len: 8 }]);
  assert.deepEqual([...d.bytes(addrs[0], 5), ...d.bytes(addrs[1], 3)], [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.equal(irq.level, true);
});

test("large buffers are filled completely (more than one scratch block)", () => {
  const { d } = setup();
  const { addrs } = d.add(0, [{ writable: 10000 }], { indirect: true });
  d.kick(0);
  assert.equal(d.takeUsed(0)[0].len, 10000);
  const b = d.bytes(addrs[0], 10000);
  assert.equal(b[9999], 9999 & 0xff);
});

test("a request with no writable part is returned with length 0", () => {
  const { d } = setup();
  d.add(0, [{ data: Uint8Array.of(1) }]);
  d.kick(0);
  assert.equal(d.takeUsed(0)[0].len, 0);
});

test("the node entropy source fills buffers", () => {
  const a = new Uint8Array(64);
  nodeEntropy(a);
  assert.ok(a.some((x) => x !== 0));
});

test("save/restore: a restored transport continues the ring where the saved one stopped", () => {
  const src = setup();
  for (let i = 0; i < 3; i++) src.d.add(0, [{ writable: 4 }]);
  src.d.kick(0);
  assert.equal(src.d.takeUsed(0).length, 3);
  const saved = src.t.save();

  // A device in a different state: driver set up, but no request served.
  const dst = setup();
  assert.notDeepEqual(dst.t.save(), saved, "the target starts in a different state");
  dst.ram.setAll(src.ram.u8);
  dst.t.restore(saved);
  assert.deepEqual(dst.t.save(), saved);
  // One more request: the restored device serves only it (last_avail_idx 3 was restored), and puts it in
  // used slot 3 (used idx restored), filled from its own entropy source.
  const d = src.d.continueOn(dst.t, dst.ram);
  const { head, addrs } = d.add(0, [{ writable: 4 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: head, len: 4 }]);
  assert.deepEqual([...d.bytes(addrs[0], 4)], [0, 1, 2, 3]);
  assert.equal(dst.t.queue(0).usedIdx, 4);
});
