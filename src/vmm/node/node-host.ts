/** Node implementations of the VM's host services: files, disk images, NIC backends, gzip, clock, console, entropy. */
import { randomFillSync } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { CharBackend } from "../../io/char-backend.js";
import { hostClock } from "../../io/node/clock.js";
import { nodeGunzip } from "../../machine/node/gunzip.js";
import { createMadviseReleaser } from "../../memory/node/madvise.js";
import { PcapFile } from "../../net/node/pcap-file.js";
import { openImage } from "../../storage/node/open-image.js";
import { printable } from "../../storage/printable.js";
import { bundledName } from "../bundled-guest.js";
import type { VmHost } from "../vm-host.js";
import { readBootFile } from "./boot-file.js";
import { openNicBackend } from "./nic-backend.js";

/** images/riscv64, relative to dist/src/vmm/node/. */
const BUNDLED_DIR = "../../../../images/riscv64/";

/** The VM host for a Node process; `console` is where the guest's serial console goes. */
export function createNodeHost(console: CharBackend, log: (msg: string) => void = () => {}): VmHost {
  return {
    readFile: (path, what, maxBytes, limitReason) => {
      // "bundled:Image.gz" (a VM specified in a browser tab): this package's copy of the bundled guest.
      const bundled = bundledName(path);
      const real =
        bundled === null ? path : fileURLToPath(new URL(`${BUNDLED_DIR}${bundled}`, import.meta.url));
      return readBootFile(real, what, maxBytes, limitReason);
    },
    openDisk: (path, opts) =>
      openImage(path, {
        ...opts,
        // A probed format is a hazard (a guest could change what the probe sees): say so, naming the fix.
        onProbed: (p, fmt) =>
          log(
            `warning: the format of ${printable(p)} was probed as ${fmt}; give it explicitly (format=${fmt})`,
          ),
        onWarning: log,
      }),
    openNic: (nic, ctx) => openNicBackend(nic, ctx),
    openCapture: (path) => new PcapFile(path),
    gunzip: nodeGunzip,
    clock: hostClock,
    console,
    entropy: (buf) => {
      randomFillSync(buf);
    },
    log,
    memoryReleaser: createMadviseReleaser,
  };
}
