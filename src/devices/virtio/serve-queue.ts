/** Synchronous request handling shared by virtio devices: take every available chain, complete it, interrupt once. */
import type { VirtioHost } from "./device.js";
import type { DescriptorChain } from "./queue.js";

/**
 * Pop every chain available in queue `index`, hand it to `serve` and return it to the used ring with
 * the byte count `serve` reports written (§2.7.8); then signal used buffers once if any were returned.
 * A VirtqueueError from the ring propagates to the caller (the transport marks DEVICE_NEEDS_RESET).
 */
export function serveQueue(host: VirtioHost, index: number, serve: (chain: DescriptorChain) => number): void {
  const q = host.queue(index);
  let used = false;
  for (let chain = q.pop(); chain !== null; chain = q.pop()) {
    q.push(chain.head, serve(chain));
    used = true;
  }
  if (used) host.usedBuffers(index);
}
