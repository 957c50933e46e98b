/** The daemon's cgroup parent: groups left by killed daemons are swept at start, live ones are kept. */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { probeCpuHost, releaseCpuHost } from "./cpu-control.js";

test("a cgroup v1 probe sweeps the groups of dead daemons and keeps the live ones", (t) => {
  const root = mkdtempSync(join(tmpdir(), "tvisor-cg-"));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const cpu = join(root, "cpu");
  mkdirSync(cpu);
  writeFileSync(join(cpu, "cpu.shares"), "1024");
  writeFileSync(join(cpu, "cpu.cfs_quota_us"), "-1");
  // Above any Linux pid_max (2^22), so no process has it: a daemon that was killed.
  const dead = join(cpu, "tvisor-2147483000");
  mkdirSync(join(dead, "vm-a"), { recursive: true });
  // pid 1 always exists: another daemon's group, in use.
  const live = join(cpu, "tvisor-1");
  mkdirSync(join(live, "vm-b"), { recursive: true });
  const other = join(cpu, "not-ours");
  mkdirSync(other);

  const host = probeCpuHost(root);
  assert.equal(host.mechanism, "cgroup-v1");
  assert.equal(host.parent, join(cpu, `tvisor-${process.pid}`));
  assert.equal(existsSync(dead), false, "the dead daemon's group and its VM group are gone");
  assert.equal(existsSync(join(live, "vm-b")), true, "a live daemon's groups stay");
  assert.equal(existsSync(other), true, "groups not named by tvisor stay");
  releaseCpuHost(host);
  assert.equal(existsSync(join(cpu, `tvisor-${process.pid}`)), false);
});
