/**
 * Snapshot figures through a real daemon, for 256 MiB and 1 GiB guests: how long the guest is paused for
 * `snapshot create` of a running VM (RAM written while it runs, then the last dirty pages, CPU, devices
 * and the disks' snapshots during the pause), with the guest idle at its shell and with a loop dirtying
 * memory (1 MiB of /dev/urandom rewritten into a tmpfs file per turn, plus a counter); the state's size
 * in the VM-state area, the pre-copy rounds and time, where the pause went; the pause of a revert in
 * place; and, for comparison, the one-pass write of the same state while the VM is paused (what the
 * pause was before pre-copy). The pause is what the VM process reports (pause → resume).
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";

const MiB = 1024 * 1024;

interface Result {
  pauseMs: number;
  snapshot?: { vmStateBytes: number };
  precopy?: {
    rounds: number;
    precopyMs: number;
    pagesWhileRunning: number;
    pagesAtPause: number;
    stopMs: number;
    drainMs: number;
    ramMs: number;
    devicesMs: number;
    disksMs: number;
  };
}

async function call(
  d: TestDaemon,
  method: string,
  path: string,
  body?: unknown,
): Promise<Result & { ms: number }> {
  const t0 = performance.now();
  const r = await d.call(method, path, body);
  const ms = performance.now() - t0;
  if (r.status >= 300) throw new Error(`${method} ${path}: ${JSON.stringify(r.body)}`);
  return { ...(r.body as Result), ms };
}

function describe(r: Result & { ms: number }): string {
  const p = r.precopy;
  const size = `state ${(r.snapshot!.vmStateBytes / MiB).toFixed(1)} MiB`;
  if (!p) return `paused ${r.pauseMs.toFixed(0)} ms (API call ${r.ms.toFixed(0)} ms), ${size}`;
  return (
    `paused ${r.pauseMs.toFixed(0)} ms [stop ${p.stopMs.toFixed(0)}, drain ${p.drainMs.toFixed(0)}, ` +
    `last RAM ${p.ramMs.toFixed(0)} (${p.pagesAtPause} pages), CPU+devices ${p.devicesMs.toFixed(0)}, ` +
    `disk snapshots ${p.disksMs.toFixed(0)}]; pre-copy ${p.rounds} rounds, ${(p.precopyMs / 1000).toFixed(1)} s, ` +
    `${p.pagesWhileRunning} pages; ${size}; API call ${(r.ms / 1000).toFixed(1)} s`
  );
}

export async function bench(): Promise<void> {
  for (const memMiB of [256, 1024]) {
    const d = new TestDaemon();
    try {
      await d.start([]);
      const disk = join(d.stateDir, "disk.qcow2");
      const made = spawnSync(process.execPath, [TVISOR_CLI, "image", "create", "-f", "qcow2", disk, "64M"]);
      if (made.status !== 0) throw new Error(String(made.stderr));
      const def = await d.call("POST", "/v1/vms", {
        name: "snap",
        memBytes: memMiB * MiB,
        disks: [{ path: disk, format: "qcow2" }],
      });
      if (def.status !== 201) throw new Error(JSON.stringify(def.body));
      await d.call("POST", "/v1/vms/snap/start");
      const c = await ConsoleClient.open(d.socketPath, "snap");
      await c.waitForShell();
      const tag = `${memMiB} MiB guest`;
      for (const name of ["idle1", "idle2"])
        console.log(
          `${tag}, idle, ${name}: ${describe(await call(d, "POST", "/v1/vms/snap/snapshots", { name }))}`,
        );
      // The same state written in one pass while the VM is paused: what the pause was before pre-copy.
      await call(d, "POST", "/v1/vms/snap/pause");
      const once = await call(d, "POST", "/v1/vms/snap/snapshots", { name: "paused" });
      console.log(
        `${tag}, one pass while paused (the pause before pre-copy): ${(once.ms / 1000).toFixed(2)} s, state ${(once.snapshot!.vmStateBytes / MiB).toFixed(1)} MiB`,
      );
      await call(d, "POST", "/v1/vms/snap/resume");
      c.type("\n");
      await c.run(
        "(j=0; while true; do j=$((j + 1)); echo $j > /tmp/count; dd if=/dev/urandom of=/tmp/blob bs=64k count=16 2>/dev/null; done) >/dev/null 2>&1 & true",
      );
      await c.run("sleep 3");
      for (const name of ["busy1", "busy2"])
        console.log(
          `${tag}, dirtying, ${name}: ${describe(await call(d, "POST", "/v1/vms/snap/snapshots", { name }))}`,
        );
      for (const name of ["idle1", "busy1"]) {
        const rv = await call(d, "POST", `/v1/vms/snap/snapshots/${name}/revert`);
        console.log(
          `${tag}, revert in place to ${name}: paused ${rv.pauseMs.toFixed(0)} ms (API call ${rv.ms.toFixed(0)} ms)`,
        );
      }
      c.close();
      await d.call("POST", "/v1/vms/snap/kill");
    } finally {
      await d.dispose();
    }
  }
}
