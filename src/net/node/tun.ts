/** Linux TUN/TAP: open /dev/net/tun and attach it to a TAP interface (TUNSETIFF), through koffi for ioctl(2) and poll(2). */
/*
 * Kernel interface: Documentation/networking/tuntap.rst and <linux/if_tun.h>. A TAP fd carries whole
 * Ethernet frames; with IFF_NO_PI there is no 4-byte packet-information prefix, so one read(2) is one
 * frame and one write(2) sends one. Node has no binding for ioctl or poll (nor a stream type for a
 * character device), hence FFI; libc's functions are loaded once per thread.
 */
import { closeSync, constants, openSync } from "node:fs";
import koffi from "koffi";
import { errorMessage, UserError } from "../../base/errors.js";

/** <linux/if_tun.h>: _IOW('T', 202, int). */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
const IFF_NO_PI = 0x1000;
/** struct ifreq: ifr_name[IFNAMSIZ = 16], then the union whose first member is short ifr_flags (40 bytes in all). */
const IFREQ_BYTES = 40;
const IFNAMSIZ = 16;
/** <asm-generic/errno-base.h> */
export const EAGAIN = 11;
const EPERM = 1;
const EBUSY = 16;

export interface Libc {
  ioctl(fd: number, request: number, type: string, arg: Uint8Array): number;
  poll(fds: Uint8Array, nfds: number, timeoutMs: number): number;
  read(fd: number, buf: Uint8Array, count: number): number;
  errno(): number;
}

let libc: Libc | null = null;

/** libc's ioctl, poll and read (koffi binds per thread: the reader worker calls this too). */
export function loadLibc(): Libc {
  if (libc !== null) return libc;
  const lib = koffi.load("libc.so.6");
  const ioctl = lib.func("int ioctl(int fd, unsigned long request, ...)");
  const poll = lib.func("int poll(void *fds, unsigned long nfds, int timeout)");
  const read = lib.func("long read(int fd, void *buf, unsigned long count)");
  libc = {
    ioctl: (fd, request, type, arg) => ioctl(fd, request, type, arg) as number,
    poll: (fds, nfds, timeoutMs) => poll(fds, nfds, timeoutMs) as number,
    read: (fd, buf, count) => Number(read(fd, buf, count)),
    errno: () => koffi.errno(),
  };
  return libc;
}

/**
 * Open a nonblocking TAP fd attached to interface `ifname` (created if absent, which needs
 * CAP_NET_ADMIN; an existing persistent device made with `ip tuntap add ... user U` does not).
 * Returns the fd and the interface's name. Failures are one-line UserErrors.
 */
export function openTapFd(ifname: string): { fd: number; ifname: string } {
  const name = new TextEncoder().encode(ifname);
  if (name.length === 0 || name.length >= IFNAMSIZ || !/^[A-Za-z0-9_.:-]+$/.test(ifname))
    throw new UserError(
      `tap ifname=${ifname}: an interface name is 1..15 characters of letters, digits, '_', '.', '-'`,
    );
  let fd: number;
  try {
    fd = openSync("/dev/net/tun", constants.O_RDWR | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM")
      throw new UserError(
        `tap ${ifname}: cannot open /dev/net/tun (${code}): needs CAP_NET_ADMIN or access to the device`,
      );
    throw new UserError(`tap ${ifname}: cannot open /dev/net/tun: ${errorMessage(e)}`);
  }
  try {
    const ifr = new Uint8Array(IFREQ_BYTES);
    ifr.set(name, 0);
    new DataView(ifr.buffer).setInt16(IFNAMSIZ, IFF_TAP | IFF_NO_PI, true);
    const c = loadLibc();
    if (c.ioctl(fd, TUNSETIFF, "void *", ifr) < 0) {
      const errno = c.errno();
      if (errno === EPERM)
        throw new UserError(
          `tap ${ifname}: not permitted (needs CAP_NET_ADMIN, or a device made beforehand with ` +
            `\`ip tuntap add ${ifname} mode tap user $USER\`)`,
        );
      if (errno === EBUSY) throw new UserError(`tap ${ifname}: the device is in use by another process`);
      throw new UserError(
        `tap ${ifname}: TUNSETIFF failed (errno ${errno}; is ${ifname} a TUN rather than a TAP device?)`,
      );
    }
    const end = ifr.indexOf(0);
    return { fd, ifname: new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end)) };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}
