/** Host entropy for virtio-rng on Node: the operating system's CSPRNG. */
import { randomFillSync } from "node:crypto";
import type { EntropySource } from "../rng.js";

/** Fill a buffer from the OS CSPRNG (pass as `new VirtioRng({ entropy: nodeEntropy })`). */
export const nodeEntropy: EntropySource = (buf) => {
  randomFillSync(buf);
};
