/**
 * Boot test: the guest's virtio-balloon driver inflates 64 MiB at the host's request; the guest's free
 * memory drops by that much and the pages leave the host's resident set (madvise(MADV_DONTNEED));
 * deflating gives the memory back to the guest.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import koffi from "koffi";
import type { VirtualMachine } from "../../src/vmm/vm.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, HANG_GUARD_MS, missingImages } from "./guest-session.js";

const MiB = 1024 * 1024;
const KERNEL_CONFIG = fileURLToPath(new URL("../../../images/linux/config-6.1-riscv64", import.meta.url));

/** Why the bundled kernel cannot drive a balloon (built before CONFIG_VIRTIO_BALLOON), or null. */
function noBalloonDriver(): string | null {
  return /^CONFIG_VIRTIO_BALLOON=y$/m.test(readFileSync(KERNEL_CONFIG, "utf8"))
    ? null
    : "the bundled kernel has no virtio-balloon driver: rebuild it (images/build-kernel.sh)";
}

/** Resident pages of guest RAM according to mincore(2): the host's own account. */
function residentRamBytes(vm: VirtualMachine): number {
  const ram = vm.machine?.ram;
  assert.ok(ram);
  const mincore = koffi.load("libc.so.6").func("int mincore(void *addr, size_t len, _Out_ uint8_t *vec)") as (
    a: Uint8Array,
    l: number,
    v: Uint8Array,
  ) => number;
  const vec = new Uint8Array(ram.size / 4096);
  assert.equal(mincore(ram.u8, ram.size, vec), 0);
  return vec.reduce((a, b) => a + (b & 1), 0) * 4096;
}

function processRss(): number {
  return Number(readFileSync("/proc/self/statm", "utf8").split(" ")[1]) * 4096;
}

/** Wait until the driver reports the balloon at the target (config `actual`), polling the device state. */
async function balloonReaches(vm: VirtualMachine, bytes: number): Promise<void> {
  const deadline = Date.now() + HANG_GUARD_MS;
  for (;;) {
    const m = vm.memoryInfo();
    if (m && m.balloon.actualPages * 4096 === bytes && m.balloon.targetPages * 4096 === bytes) return;
    if (Date.now() > deadline) throw new Error(`balloon never reached ${bytes} bytes: ${JSON.stringify(m)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("balloon: inflating 64 MiB takes it from the guest and from the host's RSS; deflating gives it back", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages() ?? noBalloonDriver();
  if (why) return t.skip(why);
  if (process.platform !== "linux") return t.skip("madvise releaser is Linux-only");
  // Free page reporting off, so what leaves the resident set is the balloon's doing alone.
  const s = new GuestSession({ memMiB: 192, freePageReporting: false });
  try {
    await s.waitForShell();
    const vm = s.vm;
    assert.match(await s.run("ls /sys/bus/virtio/drivers/"), /virtio_balloon/);
    const info = vm.memoryInfo();
    assert.ok(info?.releasesToHost, "guest RAM is released with madvise on this host");
    const memFree = async () => Number(/MemFree:\s+(\d+)/.exec(await s.run("cat /proc/meminfo"))?.[1]) * 1024;
    // Touch most of the guest's free memory (tmpfs), then free it: free in the guest, resident on the host.
    const free0 = await memFree();
    const fill = Math.floor((free0 - 24 * MiB) / MiB);
    await s.run(`dd if=/dev/zero of=/tmp/fill bs=1M count=${fill} 2>/dev/null; rm /tmp/fill`);
    const freeBefore = await memFree();
    const residentBefore = residentRamBytes(vm);
    const rssBefore = processRss();

    vm.setMemoryTarget(192 * MiB - 64 * MiB);
    await balloonReaches(vm, 64 * MiB);
    const freeAfter = await memFree();
    const residentAfter = residentRamBytes(vm);
    const rssAfter = processRss();
    const m = vm.memoryInfo();
    t.diagnostic(
      `guest MemFree ${(freeBefore / MiB).toFixed(1)} -> ${(freeAfter / MiB).toFixed(1)} MiB; ` +
        `resident guest RAM ${(residentBefore / MiB).toFixed(1)} -> ${(residentAfter / MiB).toFixed(1)} MiB; ` +
        `process RSS ${(rssBefore / MiB).toFixed(1)} -> ${(rssAfter / MiB).toFixed(1)} MiB; released ${m?.balloon.releasedBytes}`,
    );
    assert.equal(m?.balloon.inflatedPages, (64 * MiB) / 4096);
    assert.equal(m?.balloon.badPfns, 0);
    // The guest's free memory drops by the balloon (give or take what the guest did meanwhile).
    const drop = freeBefore - freeAfter;
    assert.ok(drop > 56 * MiB && drop < 72 * MiB, `guest free memory dropped by ${drop / MiB} MiB`);
    // The host holds at least most of it no more: resident guest RAM and the process's RSS both fall.
    assert.ok(residentBefore - residentAfter > 32 * MiB, "resident guest RAM falls by most of 64 MiB");
    assert.ok(rssBefore - rssAfter > 32 * MiB, "the process's RSS falls by most of 64 MiB");

    // Deflate: the guest gets its memory back.
    vm.setMemoryTarget(192 * MiB);
    await balloonReaches(vm, 0);
    const freeBack = await memFree();
    assert.ok(freeBack > freeAfter + 56 * MiB, `guest free memory back to ${freeBack / MiB} MiB`);
    assert.equal(vm.memoryInfo()?.balloon.inflatedPages, 0);
    // The statistics queue works: the driver answers a request with its figures.
    const before = vm.memoryInfo()?.balloon.statsUpdates ?? 0;
    vm.requestMemoryStats();
    const deadline = Date.now() + HANG_GUARD_MS;
    while ((vm.memoryInfo()?.balloon.statsUpdates ?? 0) <= before) {
      if (Date.now() > deadline) throw new Error("no statistics from the guest");
      await new Promise((r) => setTimeout(r, 100));
    }
    const g = vm.memoryInfo()?.guest;
    assert.ok(g && g.totalMemory > 100 * MiB && g.freeMemory > 0, JSON.stringify(g));
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});
