// Runs every compiled *.test.js under dist/ with node's test runner (Node 20 has no glob support in --test).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";

function find(dir, out) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) find(p, out);
    else if (name.endsWith(".test.js")) out.push(p);
  }
  return out;
}

const filter = process.argv[2];
const files = find("dist", [])
  .filter((f) => !filter || f.includes(filter))
  .sort();
if (files.length === 0) {
  console.error("no test files found");
  process.exit(1);
}
// One test file per core, at most 4: boot tests each keep a core busy. Outcomes never depend on this
// (tests wait for events, with hang guards only); it only sets how long the suite takes.
// TVISOR_TEST_CONCURRENCY overrides it (1 runs the files one at a time).
const concurrency =
  Number(process.env.TVISOR_TEST_CONCURRENCY) || Math.max(1, Math.min(availableParallelism(), 4));
const r = spawnSync(process.execPath, ["--test", `--test-concurrency=${concurrency}`, ...files], {
  stdio: "inherit",
});
process.exit(r.status ?? 1);
