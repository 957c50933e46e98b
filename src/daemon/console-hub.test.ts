import assert from "node:assert/strict";
import { test } from "node:test";
import { ByteRing, ConsoleHub, type ConsoleViewer, RING_BYTES, VIEWER_MAX_QUEUED } from "./console-hub.js";

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

test("the ring keeps the last bytes in order across wrap-around", () => {
  const r = new ByteRing(8);
  r.write(bytes("abc"));
  assert.equal(text(r.contents()), "abc");
  r.write(bytes("defgh"));
  assert.equal(text(r.contents()), "abcdefgh");
  r.write(bytes("ij"));
  assert.equal(text(r.contents()), "cdefghij");
  r.write(bytes("0123456789"));
  assert.equal(text(r.contents()), "23456789");
  for (let i = 0; i < 20; i++) r.write(bytes(String.fromCharCode(65 + i)));
  assert.equal(text(r.contents()), "MNOPQRST");
});

/** A viewer whose transport accepts bytes but never delivers them (a client that stopped reading). */
class StuckViewer implements ConsoleViewer {
  queued = 0;
  closedWith: string | null = null;
  send(d: Uint8Array): void {
    this.queued += d.length;
  }
  queuedBytes(): number {
    return this.queued;
  }
  close(reason: string): void {
    this.closedWith = reason;
  }
}

class FastViewer implements ConsoleViewer {
  got: Uint8Array[] = [];
  send(d: Uint8Array): void {
    this.got.push(d);
  }
  queuedBytes(): number {
    return 0;
  }
  close(): void {}
}

test("a viewer that stops reading is dropped at the bound; the others get everything", () => {
  const hub = new ConsoleHub();
  const stuck = new StuckViewer();
  const fast = new FastViewer();
  hub.attach(stuck);
  hub.attach(fast);
  const chunk = new Uint8Array(4096).fill(0x61);
  const chunks = (2 * VIEWER_MAX_QUEUED) / chunk.length;
  for (let i = 0; i < chunks; i++) hub.write(chunk);
  assert.ok(stuck.closedWith?.includes("too slow"));
  assert.ok(stuck.queued <= VIEWER_MAX_QUEUED, "never queued beyond the bound");
  assert.equal(hub.viewerCount, 1);
  assert.equal(hub.dropped, 1);
  assert.equal(
    fast.got.reduce((n, c) => n + c.length, 0),
    chunks * chunk.length,
  );
  // The ring stays bounded whatever went through.
  assert.equal(hub.recent().length, RING_BYTES);
});

test("a late viewer first gets the recent output", () => {
  const hub = new ConsoleHub();
  hub.write(bytes("boot log\n# "));
  const late = new FastViewer();
  hub.attach(late);
  assert.equal(text(late.got[0]), "boot log\n# ");
  hub.write(bytes("x"));
  assert.equal(text(late.got[1]), "x");
  hub.detach(late);
  hub.write(bytes("y"));
  assert.equal(late.got.length, 2);
});
