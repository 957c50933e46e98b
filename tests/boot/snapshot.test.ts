/** Boot test: save a booted machine's state as plain data, restore it into a new VM, and the shell keeps answering. */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { SavedState, StateValue } from "../../src/base/state.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";

/** Every node of a saved state is plain data: no class instances, functions or positional tuples of state. */
function assertPlainData(v: StateValue, path: string): void {
  if (v === null || ["number", "string", "boolean"].includes(typeof v)) return;
  if (
    v instanceof Uint8Array ||
    v instanceof Int32Array ||
    v instanceof Uint32Array ||
    v instanceof Float64Array
  )
    return;
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      assertPlainData(x, `${path}[${i}]`);
    });
    return;
  }
  assert.equal(Object.getPrototypeOf(v), Object.prototype, `${path} is not a plain object`);
  for (const [k, x] of Object.entries(v)) assertPlainData(x, `${path}.${k}`);
}

test("save/restore round trip of a booted machine", { timeout: BOOT_TEST_TIMEOUT_MS }, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const a = new GuestSession({ cpus: 2 });
  let state: SavedState;
  try {
    await a.waitForShell();
    await a.run("echo before > /tmp/mark; cd /tmp");
    a.vm.stop();
    assert.deepEqual(await a.exit, { kind: "stopped" });
    state = a.vm.save();
  } finally {
    await a.close();
  }
  assert.equal(state.kind, "riscv-virt");
  assertPlainData(state, "state");
  // Each stateful component saved itself under a name.
  const harts = state.hartStates as SavedState[];
  assert.equal(harts.length, 2);
  for (const k of ["clint", "plic", "uart", "rtc"])
    assert.equal(typeof (state[k] as SavedState).kind, "string", k);
  assert.ok((state.virtio as SavedState[]).length >= 1, "virtio-rng transport saved");
  // Survives a structured clone (what a snapshot file or a worker hand-off would do).
  const copy = structuredClone(state);

  const b = new GuestSession({ cpus: 2, deferStart: true });
  try {
    await b.vm.restore(copy);
    b.start();
    // The restored shell is at its prompt; it remembers the file and the working directory.
    b.type("\n");
    assert.equal((await b.run("cat mark; pwd")).trim(), "before\n/tmp");
    assert.equal((await b.run("echo $((2 + 3))")).trim(), "5");
    assert.equal((await b.run("head -c 8 /dev/hwrng | wc -c")).trim(), "8");
    b.type("poweroff\n");
    assert.deepEqual(await b.exit, { kind: "poweroff" });
  } finally {
    await b.close();
  }
});
