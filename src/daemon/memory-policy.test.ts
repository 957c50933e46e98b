/** The host-wide memory policy's decisions. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { decide, MIN_KEEP, type PolicyVm, parseMeminfo } from "./memory-policy.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function vm(over: Partial<PolicyVm> = {}): PolicyVm {
  return {
    name: "v",
    ramBytes: 512 * MiB,
    ownTargetBytes: 512 * MiB,
    guestAvailableBytes: 400 * MiB,
    balloonBytes: 0,
    currentKeepBytes: 512 * MiB,
    cpuHistory: Array(10).fill(1),
    squeezed: false,
    ...over,
  };
}

test("meminfo is read in bytes", () => {
  assert.deepEqual(parseMeminfo("MemTotal:  1000 kB\nMemFree: 5 kB\nMemAvailable:   200 kB\n"), {
    total: 1000 * 1024,
    available: 200 * 1024,
  });
  assert.equal(parseMeminfo("MemTotal: 1 kB\n"), null);
});

test("short of memory: idle VMs keep what they use plus headroom; busy ones and ones without figures are left", () => {
  const short = { total: 8 * GiB, available: 0.5 * GiB };
  const d = decide(short, [
    vm({ name: "idle" }),
    vm({ name: "busy", cpuHistory: Array(10).fill(90) }),
    vm({ name: "new", cpuHistory: [1, 1] }),
    vm({ name: "nostats", guestAvailableBytes: null }),
  ]);
  assert.deepEqual(d, [{ name: "idle", keepBytes: 112 * MiB + 32 * MiB, squeezed: true }]);
  // The balloon counts as used inside the guest: a squeezed VM is not squeezed further by its own balloon.
  const again = decide(short, [
    vm({ name: "idle", balloonBytes: 368 * MiB, guestAvailableBytes: 32 * MiB, currentKeepBytes: 144 * MiB }),
  ]);
  assert.deepEqual(again, []);
  // Never below the floor, never above the VM's own target.
  assert.equal(decide(short, [vm({ guestAvailableBytes: 510 * MiB })])[0].keepBytes, MIN_KEEP);
  assert.deepEqual(decide(short, [vm({ ownTargetBytes: 100 * MiB, currentKeepBytes: 100 * MiB })]), []);
});

test("plenty of memory: squeezed VMs get their own target back; in between nothing changes", () => {
  const vms = [vm({ name: "s", squeezed: true, ownTargetBytes: 384 * MiB }), vm({ name: "n" })];
  assert.deepEqual(decide({ total: 8 * GiB, available: 4 * GiB }, vms), [
    { name: "s", keepBytes: 384 * MiB, squeezed: false },
  ]);
  assert.deepEqual(decide({ total: 8 * GiB, available: 1.2 * GiB }, vms), []);
});
