/**
 * TAP backend against the real kernel: the device is moved into a network namespace made by the test,
 * addressed there, and the namespace's own stack answers ARP and ping. Skipped where CAP_NET_ADMIN or
 * netns is missing; the namespace (and with it the device) is always removed.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import type { NetPeer } from "../../io/net-backend.js";
import { MAX_HELD, TapNetBackend } from "./tap.js";

const GUEST_MAC = [2, 0, 0, 0, 0, 2];
const GUEST_IP = [10, 9, 0, 2];
const HOST_IP = [10, 9, 0, 1];

function hex(bytes: number[]): string {
  return Buffer.from(bytes).toString("hex");
}

/** An ARP request from the "guest": who has 10.9.0.1? (RFC 826) */
function arpRequest(): Uint8Array {
  return Buffer.from(
    `ffffffffffff${hex(GUEST_MAC)}0806` +
      `000108000604` +
      `0001${hex(GUEST_MAC)}${hex(GUEST_IP)}000000000000${hex(HOST_IP)}`,
    "hex",
  );
}

function ip(...args: string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Make a namespace, or say why not. */
function makeNetns(name: string): string | null {
  try {
    ip("netns", "add", name);
    return null;
  } catch (e) {
    return `cannot create a network namespace (needs CAP_SYS_ADMIN and iproute2): ${(e as Error).message.split("\n")[0]}`;
  }
}

test("a TAP in a test namespace: frames both ways with the kernel's stack; flow control holds and bounds", async (t) => {
  const ns = `tvisor-tap-${process.pid}`;
  const ifname = `tvt${process.pid % 1000000}`;
  const why = makeNetns(ns);
  if (why) return t.skip(why);
  let tap: TapNetBackend | null = null;
  try {
    try {
      tap = TapNetBackend.open(ifname);
    } catch (e) {
      if (e instanceof UserError && /CAP_NET_ADMIN/.test(e.message)) return t.skip(e.message);
      throw e;
    }
    assert.equal(tap.ifname, ifname);
    ip("link", "set", ifname, "netns", ns);
    ip("-n", ns, "addr", "add", "10.9.0.1/24", "dev", ifname);
    ip("-n", ns, "link", "set", ifname, "up");
    const b = tap;

    // ARP: the namespace's stack answers the guest's request through the tap.
    const reply = new Promise<Uint8Array>((resolve) =>
      b.onReceive((f) => {
        if (f[12] === 0x08 && f[13] === 0x06 && f[21] === 2) resolve(f.slice());
      }),
    );
    b.send(arpRequest());
    const r = await reply;
    assert.deepEqual(Array.from(r.subarray(0, 6)), GUEST_MAC, "the reply is addressed to the guest");
    assert.deepEqual(Array.from(r.subarray(28, 32)), HOST_IP, "from the namespace's address");

    // Flow control: a NIC without room. The kernel's frames (pings from the namespace) wait, bounded.
    let room = 0;
    const nic: NetPeer = { canReceive: () => room > 0, writable: () => {}, carrier: () => {} };
    b.setPeer(nic);
    let delivered = 0;
    b.onReceive(() => {
      room--;
      delivered++;
    });
    const held = () => b.heldFrames;
    // The namespace resolves the guest's MAC from the ARP above, then pings it: the frames reach us.
    ip("-n", ns, "neigh", "replace", "10.9.0.2", "lladdr", "02:00:00:00:00:02", "dev", ifname);
    // No replies come (the NIC takes nothing), so ping's status is 1; its requests reached the tap.
    spawnSync("ip", ["netns", "exec", ns, "ping", "-c", "3", "-i", "0.2", "-W", "1", "10.9.0.2"], {
      stdio: "ignore",
    });
    while (held() < 1) await new Promise<void>((res) => setImmediate(res));
    assert.equal(delivered, 0, "nothing was given to a NIC without room");
    assert.ok(held() <= MAX_HELD);
    room = Number.POSITIVE_INFINITY;
    b.resumeReceive();
    assert.ok(delivered >= 1, "held frames are delivered on resume");
    assert.equal(b.counters.txDropped, 0);
  } finally {
    tap?.close();
    try {
      ip("netns", "del", ns);
    } catch {
      // Already gone.
    }
  }
});

test("a bad interface name is a UserError before anything is opened", () => {
  assert.throws(() => TapNetBackend.open("a-name-much-too-long"), /an interface name is 1..15 characters/);
  assert.throws(() => TapNetBackend.open("bad/name"), UserError);
});
