/** `npm run bench`: runs every tests/bench/*.bench.js module in turn. Benchmarks print figures; they are not tests. */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const only = process.argv[2];
const files = readdirSync(here)
  .filter((f) => f.endsWith(".bench.js"))
  .filter((f) => !only || f.includes(only))
  .sort();
console.log(`tvisor bench — ${new Date().toISOString()} — node ${process.version}`);
for (const f of files) {
  const mod = (await import(pathToFileURL(join(here, f)).href)) as { bench?: () => Promise<void> };
  if (typeof mod.bench === "function") {
    console.log(`\n== ${f.replace(/\.bench\.js$/, "")} ==`);
    await mod.bench();
  }
}
