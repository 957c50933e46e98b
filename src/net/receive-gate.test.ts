/** ReceiveGate: frames pass while the NIC has room, wait in order (bounded, drops counted) while it has none. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ReceiveGate } from "./receive-gate.js";

test("frames are held in order while the NIC has no room, handed over on resume, the source paused meanwhile", () => {
  let room = true;
  const got: number[] = [];
  const events: string[] = [];
  let dropped = 0;
  const gate = new ReceiveGate({
    max: 2,
    nic: () => ({ canReceive: () => room, writable() {}, carrier() {} }),
    deliver: (f) => got.push(f[0]),
    drop: () => dropped++,
    pause: () => events.push("pause"),
    resume: () => events.push("resume"),
    copyHeld: true,
  });
  gate.offer(Uint8Array.of(1));
  room = false;
  const two = Uint8Array.of(2);
  gate.offer(two);
  two[0] = 99; // a held frame is a copy
  gate.offer(Uint8Array.of(3));
  gate.offer(Uint8Array.of(4)); // over max
  assert.deepEqual(got, [1]);
  assert.equal(gate.holding, 2);
  assert.equal(dropped, 1);
  room = true;
  gate.resume();
  assert.deepEqual(got, [1, 2, 3]);
  assert.deepEqual(events, ["pause", "pause", "pause", "resume"]);
  // Order is kept: a new frame waits behind a held one even when the NIC has room.
  room = false;
  gate.offer(Uint8Array.of(7));
  room = true;
  gate.offer(Uint8Array.of(8));
  assert.deepEqual(got, [1, 2, 3]);
  gate.resume();
  assert.deepEqual(got, [1, 2, 3, 7, 8]);
});

test("resume stops as soon as the NIC is full again, and clear forgets what is held", () => {
  let room = 0;
  const got: number[] = [];
  const gate = new ReceiveGate({
    max: 8,
    nic: () => ({ canReceive: () => room > 0, writable() {}, carrier() {} }),
    deliver: (f) => {
      room--;
      got.push(f[0]);
    },
    drop: () => {},
  });
  for (let i = 1; i <= 4; i++) gate.offer(Uint8Array.of(i));
  room = 2;
  gate.resume();
  assert.deepEqual(got, [1, 2]);
  assert.equal(gate.holding, 2);
  gate.clear();
  room = 5;
  gate.resume();
  assert.deepEqual(got, [1, 2]);
});
