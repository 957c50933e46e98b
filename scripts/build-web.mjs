// Bundles the browser code (src/web: the daemon's web console; src/play: the engine in a tab) into
// dist/web with esbuild, after `tsc -p tsconfig.web.json` has type-checked it. No CDN: xterm.js and its
// stylesheet are bundled; the daemon and `tvisor web --standalone` serve these files as they are.
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "dist/web");
mkdirSync(out, { recursive: true });

const result = await build({
  absWorkingDir: root,
  entryPoints: {
    app: "src/web/main.ts",
    play: "src/play/page.ts",
    "play-worker": "src/play/worker.ts",
  },
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["chrome110", "firefox115", "safari16"],
  minify: true,
  sourcemap: "linked",
  outdir: out,
  metafile: true,
  logLevel: "warning",
  // The browser bundle must not reach Node: esbuild fails on a node:* import under platform "browser";
  // tests/style/layering.test.ts also checks the metafile.
});
writeFileSync(join(out, "meta.json"), JSON.stringify(result.metafile));
for (const f of ["index.html", "play.html", "style.css"])
  copyFileSync(join(root, "src/web", f), join(out, f));
copyFileSync(join(root, "node_modules/@xterm/xterm/css/xterm.css"), join(out, "xterm.css"));
