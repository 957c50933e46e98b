/** Worker thread: waits on a TAP fd with poll(2) and posts each frame read to the main thread. */
/*
 * Why a worker: Node cannot wait for readiness on a character device (no stream type takes one), a
 * blocking read in the libuv threadpool would hold a pool thread (disk I/O's) for as long as the wire
 * is quiet, and polling with timers would cost latency or CPU. Here a thread of its own sleeps in
 * poll(2). `flags` is shared: [0] = stop, [1] = paused (the NIC has no room: stop reading, so the
 * kernel's tap queue holds and then drops frames, as it does for QEMU when it stops polling the fd).
 * A stop is seen within POLL_MS; the main thread closes the fd only after this thread has exited.
 */
import { parentPort, workerData } from "node:worker_threads";
import { EAGAIN, loadLibc } from "./tun.js";

const POLLIN = 0x1;
const POLLERR = 0x8;
const POLLHUP = 0x10;
const POLLNVAL = 0x20;
const POLL_MS = 200;
/** Frames read per wakeup before looking at the flags again. */
const BATCH = 64;
/** Bigger than any frame a TAP hands out without offloads (MTU 65535 + Ethernet + VLAN). */
const BUF_BYTES = 65536 + 64;

const { fd, flags: shared } = workerData as { fd: number; flags: SharedArrayBuffer };
const flags = new Int32Array(shared);
const port = parentPort;
if (port === null) throw new Error("tap-reader runs as a worker thread");
const c = loadLibc();
const pfd = new Uint8Array(8); // struct pollfd { int fd; short events; short revents; }
const dv = new DataView(pfd.buffer);
dv.setInt32(0, fd, true);
dv.setInt16(4, POLLIN, true);
const buf = new Uint8Array(BUF_BYTES);

loop: while (Atomics.load(flags, 0) === 0) {
  if (Atomics.load(flags, 1) === 1) {
    Atomics.wait(flags, 1, 1, POLL_MS);
    continue;
  }
  const r = c.poll(pfd, 1, POLL_MS);
  if (r <= 0) continue; // timeout, or EINTR
  const revents = dv.getInt16(6, true);
  if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
    port.postMessage({
      error: `poll reported ${revents & POLLNVAL ? "a bad fd" : "an error"} (revents 0x${revents.toString(16)})`,
    });
    break;
  }
  for (let i = 0; i < BATCH; i++) {
    const n = c.read(fd, buf, buf.length);
    if (n < 0) {
      const errno = c.errno();
      if (errno === EAGAIN) break;
      port.postMessage({ error: `read failed (errno ${errno})` });
      break loop;
    }
    if (n === 0) break;
    const frame = buf.slice(0, n);
    port.postMessage(frame, [frame.buffer]);
    if (Atomics.load(flags, 1) === 1) break;
  }
}
