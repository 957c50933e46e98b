/** Addresses network backends are given: socket addresses and user-mode NAT port forwards, as plain data. */

/** A socket address: an IP host (name or literal) and port, or a Unix socket path. */
export type NetAddress = { type: "inet"; host: string; port: number } | { type: "unix"; path: string };

/** One port forward from the host into the guest (QEMU `hostfwd=tcp:HOSTADDR:HOSTPORT-GUESTADDR:GUESTPORT`). */
export interface HostForward {
  proto: "tcp" | "udp";
  /** Host address to listen on; absent: every address. */
  hostAddr?: string;
  hostPort: number;
  /** Guest address; absent: the address the guest got by DHCP. */
  guestAddr?: string;
  guestPort: number;
}

/** "tcp:127.0.0.1:2222-:22", QEMU's spelling, for messages. */
export function formatHostForward(f: HostForward): string {
  return `${f.proto}:${f.hostAddr ?? ""}:${f.hostPort}-${f.guestAddr ?? ""}:${f.guestPort}`;
}

/** "HOST:PORT" or "unix:PATH", for messages. */
export function formatNetAddress(a: NetAddress): string {
  if (a.type === "unix") return `unix:${a.path}`;
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}
