/** Child process for the crash test: opens a qcow2 image and writes to it until it is killed. */

import { prngUnit } from "../../src/base/testing.js";
import { openImageBackend } from "../../src/storage/node/open-image.js";

const [path, seedText] = process.argv.slice(2);
const img = await openImageBackend(path!);
const r = prngUnit(Number(seedText));
process.stdout.write("ready\n");
for (let i = 0; ; i++) {
  const op = r();
  const off = Math.floor(r() * img.size) & ~511;
  const len = Math.min(img.size - off, 512 * (1 + Math.floor(r() * 256)));
  if (op < 0.8) await img.write(off, new Uint8Array(len).fill((i % 255) + 1));
  else if (op < 0.95) await img.discard(off, len);
  else await img.flush();
}
