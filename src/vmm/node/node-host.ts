/** Node implementations of the VM's host services: files, disk images, NIC backends, gzip, clock, console, entropy. */
import { randomFillSync } from "node:crypto";
import type { CharBackend } from "../../io/char-backend.js";
import { hostClock } from "../../io/node/clock.js";
import { nodeGunzip } from "../../machine/node/gunzip.js";
import { createMadviseReleaser } from "../../memory/node/madvise.js";
import { openImage } from "../../storage/node/open-image.js";
import { printable } from "../../storage/printable.js";
import type { VmHost } from "../vm-host.js";
import { readBootFile } from "./boot-file.js";
import { openNicBackend } from "./nic-backend.js";

/** The VM host for a Node process; `console` is where the guest's serial console goes. */
export function createNodeHost(console: CharBackend, log: (msg: string) => void = () => {}): VmHost {
  return {
    readFile: (path, what, maxBytes, limitReason) => readBootFile(path, what, maxBytes, limitReason),
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
