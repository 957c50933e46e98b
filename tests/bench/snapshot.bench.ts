/**
 * Snapshot figures through a real daemon: for 256 MiB and 1 GiB guests right after boot (idle at the
 * shell), how long the guest is paused for `snapshot create` (machine state written into the qcow2
 * VM-state area, every disk snapshotted), the state's size, and the pause of a revert in place. The
 * pause is what the VM process reports (pause → resume), and the wall time of the API call beside it.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { ConsoleClient, TestDaemon } from "../daemon/harness.js";

const MiB = 1024 * 1024;

interface Result {
  pauseMs: number;
  snapshot?: { vmStateBytes: number };
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
      for (const [i, name] of ["a", "b"].entries()) {
        const r = await call(d, "POST", "/v1/vms/snap/snapshots", { name });
        console.log(
          `${memMiB} MiB guest, snapshot ${i + 1}: paused ${r.pauseMs.toFixed(0)} ms (API call ${r.ms.toFixed(0)} ms), machine state ${(r.snapshot!.vmStateBytes / MiB).toFixed(1)} MiB`,
        );
      }
      const rv = await call(d, "POST", "/v1/vms/snap/snapshots/a/revert");
      console.log(
        `${memMiB} MiB guest, revert in place: paused ${rv.pauseMs.toFixed(0)} ms (API call ${rv.ms.toFixed(0)} ms)`,
      );
      c.close();
      await d.call("POST", "/v1/vms/snap/kill");
    } finally {
      await d.dispose();
    }
  }
}
