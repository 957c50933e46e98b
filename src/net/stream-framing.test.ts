/** The stream framing decoder: split anywhere, bounded, malformed lengths rejected before allocation. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { prngUnit } from "../base/testing.js";
import {
  encodeStreamFrame,
  MAX_STREAM_FRAME,
  StreamFrameDecoder,
  StreamFramingError,
} from "./stream-framing.js";

test("frames survive being split at every byte boundary", () => {
  const frames = [Uint8Array.of(1), new Uint8Array(60).fill(7), new Uint8Array(1514).fill(9)];
  const wire = new Uint8Array(frames.reduce((n, f) => n + 4 + f.length, 0));
  let at = 0;
  for (const f of frames) {
    wire.set(encodeStreamFrame(f), at);
    at += 4 + f.length;
  }
  assert.deepEqual(Array.from(wire.subarray(0, 5)), [0, 0, 0, 1, 1], "big-endian length then frame");
  const rand = prngUnit(1);
  for (let trial = 0; trial < 50; trial++) {
    const d = new StreamFrameDecoder();
    const got: Uint8Array[] = [];
    let i = 0;
    while (i < wire.length) {
      const n = 1 + Math.floor(rand() * 200);
      d.push(wire.subarray(i, i + n), (f) => got.push(f));
      i += n;
    }
    assert.deepEqual(got, frames);
    assert.equal(d.partial, false);
  }
});

test("length 0 and lengths above the largest frame are errors; the largest frame passes", () => {
  for (const len of [0, MAX_STREAM_FRAME + 1, 0xffffffff]) {
    const d = new StreamFrameDecoder();
    const hdr = new Uint8Array(4);
    new DataView(hdr.buffer).setUint32(0, len);
    assert.throws(
      () => d.push(hdr, () => assert.fail("no frame")),
      (e: unknown) => e instanceof StreamFramingError && e.length === len,
    );
  }
  const d = new StreamFrameDecoder();
  let got = 0;
  d.push(encodeStreamFrame(new Uint8Array(MAX_STREAM_FRAME)), (f) => {
    got = f.length;
  });
  assert.equal(got, MAX_STREAM_FRAME);
});

test("a partial frame is reported and reset forgets it", () => {
  const d = new StreamFrameDecoder();
  d.push(Uint8Array.of(0, 0), () => {});
  assert.equal(d.partial, true);
  d.reset();
  assert.equal(d.partial, false);
  const got: number[] = [];
  d.push(encodeStreamFrame(Uint8Array.of(5, 6)), (f) => got.push(...f));
  assert.deepEqual(got, [5, 6]);
});
