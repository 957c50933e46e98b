/** The NIC capture: frames both ways through a CapturingBackend land in a pcap file that reads back. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import type { NetBackend, NetPeer } from "../../io/net-backend.js";
import { CapturingBackend } from "../frame-capture.js";
import { PCAP_SNAPLEN, PcapFile } from "./pcap-file.js";
import { parsePcap } from "./pcap-reader.js";

/** A backend that records what it was sent and lets the test deliver frames to the NIC. */
class StubBackend implements NetBackend {
  readonly sent: Uint8Array[] = [];
  deliver: ((f: Uint8Array) => void) | null = null;
  peer: NetPeer | null = null;
  resumed = 0;
  carrier = false;
  dropped = 7;
  send(frame: Uint8Array): boolean {
    this.sent.push(frame.slice());
    return false;
  }
  onReceive(handler: (f: Uint8Array) => void): void {
    this.deliver = handler;
  }
  close(): void {}
  setPeer(peer: NetPeer): void {
    this.peer = peer;
  }
  resumeReceive(): void {
    this.resumed++;
  }
}

test("frames sent and received through a capturing backend are in the pcap, in order, with lengths and times", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-pcap-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "eth0.pcap");
  let now = 1_700_000_000_123;
  const cap = new PcapFile(path, () => now);
  const inner = new StubBackend();
  const nic = new CapturingBackend(inner, cap);
  const got: Uint8Array[] = [];
  nic.onReceive((f) => got.push(f.slice()));
  const out = new Uint8Array(60).fill(0xaa);
  const buf = new Uint8Array(1514).fill(0x55);
  assert.equal(nic.send(out), false, "the backend's congestion passes through");
  out.fill(0); // the NIC reuses guest memory: the capture must have copied
  now += 1500;
  inner.deliver?.(buf);
  const big = new Uint8Array(PCAP_SNAPLEN + 100).fill(1);
  nic.send(big);
  cap.close();
  nic.send(out); // after close: nothing more is written, nothing thrown

  const p = parsePcap(readFileSync(path));
  assert.equal(p.linkType, 1, "Ethernet");
  assert.equal(p.records.length, 3);
  assert.deepEqual(p.records[0].data, new Uint8Array(60).fill(0xaa));
  assert.equal(p.records[0].timeMs, 1_700_000_000_123);
  assert.deepEqual(p.records[1].data, buf);
  assert.equal(p.records[1].timeMs, 1_700_000_001_623);
  assert.equal(p.records[2].data.length, PCAP_SNAPLEN, "cut at the snap length");
  assert.equal(p.records[2].origLen, big.length);
  assert.equal(got.length, 1);
  assert.equal(inner.sent.length, 3, "every frame still reaches the backend");
});

test("a capturing backend passes flow control and link state through", () => {
  const inner = new StubBackend();
  const nic = new CapturingBackend(inner, { record: () => {}, close: () => {} });
  const peer: NetPeer = { canReceive: () => true, writable: () => {}, carrier: () => {} };
  nic.setPeer(peer);
  assert.equal(inner.peer, peer);
  nic.resumeReceive();
  assert.equal(inner.resumed, 1);
  assert.equal(nic.carrier, false);
  assert.equal(nic.dropped, 7);
});

test("a capture path that is a directory or cannot be created is a UserError", (t) => {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-pcap-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "d"));
  assert.throws(() => new PcapFile(join(dir, "d")), UserError);
  assert.throws(() => new PcapFile(join(dir, "missing", "x.pcap")), UserError);
});

test("a truncated capture file is reported, not misread", () => {
  const bytes = new Uint8Array(24 + 10);
  new DataView(bytes.buffer).setUint32(0, 0xa1b2c3d4, true);
  new DataView(bytes.buffer).setUint32(16, 65535, true);
  assert.throws(() => parsePcap(bytes), /truncated record header/);
});
