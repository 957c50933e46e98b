/** Tests for the bounded byte FIFO. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteQueue } from "./byte-queue.js";

test("bytes come out in order across the wrap-around, and a full queue refuses the excess", () => {
  const q = new ByteQueue(5);
  assert.equal(q.push(Uint8Array.of(1, 2, 3)), 3);
  assert.equal(q.shift(), 1);
  assert.equal(q.shift(), 2);
  assert.equal(q.push(Uint8Array.of(4, 5, 6, 7, 8, 9)), 4);
  assert.equal(q.length, 5);
  const out: number[] = [];
  for (let b = q.shift(); b >= 0; b = q.shift()) out.push(b);
  assert.deepEqual(out, [3, 4, 5, 6, 7]);
  assert.equal(q.shift(), -1);
});

test("a flood many times the capacity leaves exactly `capacity` bytes queued", () => {
  const q = new ByteQueue(4096);
  const chunk = new Uint8Array(65536).fill(0xaa);
  let taken = 0;
  for (let i = 0; i < 1000; i++) taken += q.push(chunk);
  assert.equal(taken, 4096);
  assert.equal(q.length, 4096);
  q.clear();
  assert.equal(q.length, 0);
  assert.throws(() => new ByteQueue(0), RangeError);
});

test("take and toArray return the oldest bytes across the wrap-around", () => {
  const q = new ByteQueue(4);
  q.push(Uint8Array.of(1, 2, 3));
  assert.deepEqual([...q.take(2)], [1, 2]);
  q.push(Uint8Array.of(4, 5, 6));
  assert.deepEqual([...q.toArray()], [3, 4, 5, 6]);
  assert.equal(q.length, 4);
  assert.deepEqual([...q.take(10)], [3, 4, 5, 6]);
  assert.equal(q.length, 0);
  assert.deepEqual([...q.take(1)], []);
});
