/**
 * One NIC of the VM specification: its MAC, an optional packet capture, and the host side it is wired
 * to (the backend), as plain data. The validator here is the one gate for NIC input from flags, API
 * bodies and state files; `cli/nic-flag.ts` parses QEMU's `-nic`/`-netdev` syntax into this shape.
 *
 * Backend kinds (QEMU's names where QEMU has the thing; QEMU docs "Network options"):
 * - `hub`: a port the embedder attaches (the daemon's network NETWORK, an in-process NetHub).
 * - `user`: user-mode NAT on passt, with `hostfwd` port forwards (QEMU `-netdev user,hostfwd=`) and
 *   optionally the host-side DNS resolvers passt relays to (`hostDns`, instead of /etc/resolv.conf).
 * - `stream`: frames over a TCP or Unix stream, each after a 32-bit big-endian length (QEMU 7.2
 *   `-netdev stream`; the older `-netdev socket,listen=|connect=` is the same wire and parses to this).
 * - `dgram`: one frame per UDP or Unix datagram (QEMU 7.2 `-netdev dgram`; `socket,mcast=|udp=`
 *   parse to this). A multicast `remote` address makes it a multicast bus.
 * - `switch`: a named virtual switch that outlives any VM (`tvisor switch NAME` or the daemon's).
 * - `tap`: a host TAP device by interface name (needs CAP_NET_ADMIN).
 */
import { FieldError } from "../base/errors.js";
import type { HostForward, NetAddress } from "../net/net-address.js";
import { formatMac, parseMac } from "./mac.js";
import {
  checkArray,
  checkBool,
  checkEnum,
  checkInt,
  checkKeys,
  checkPath,
  describe,
  isRecord,
} from "./spec-fields.js";

export type { HostForward, NetAddress };

export type NicBackendSpec =
  | { kind: "hub"; network?: string }
  | { kind: "user"; hostfwd: HostForward[]; hostDns?: string[] }
  | { kind: "stream"; server: boolean; addr: NetAddress; reconnect?: number }
  | { kind: "dgram"; local?: NetAddress; remote?: NetAddress }
  | { kind: "switch"; name: string }
  | { kind: "tap"; ifname: string };

export type NicBackendKind = NicBackendSpec["kind"];
export const NIC_BACKEND_KINDS: readonly NicBackendKind[] = [
  "hub",
  "user",
  "stream",
  "dgram",
  "switch",
  "tap",
];

/** One virtio-net NIC. */
export interface NicSpec {
  /** "52:54:00:12:34:56"; absent: derived from the VM's name, else its vmIndex, and the NIC's position. */
  mac?: string;
  /** The host side; absent in input: `hub` (attached by the embedder, as before backends had kinds). */
  backend: NicBackendSpec;
  /** Write the NIC's traffic, both ways, to this file in libpcap format. */
  pcap?: string;
}

/** Most port forwards on one NIC (each becomes a passt option and a host socket). */
export const MAX_HOSTFWD = 64;
/** Most upstream resolvers on one NIC (DHCP option 6 carries a short list; resolv.conf reads three). */
export const MAX_HOST_DNS = 3;
/** sockaddr_un.sun_path holds 108 bytes with the terminating NUL (unix(7)). */
export const MAX_UNIX_PATH = 107;
/** IFNAMSIZ is 16 with the NUL (linux/if.h). */
export const MAX_IFNAME = 15;
/** A DNS name is at most 253 characters (RFC 1035 §2.3.4, textual form). */
const MAX_HOST = 253;
/** Switch and network names become file and socket names: no slashes, no leading dot. */
export const NET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

const NIC_FIELDS = new Set(["mac", "backend", "pcap"]);
const BACKEND_FIELDS: Record<NicBackendKind, Set<string>> = {
  hub: new Set(["kind", "network"]),
  user: new Set(["kind", "hostfwd", "hostDns"]),
  stream: new Set(["kind", "server", "addr", "reconnect"]),
  dgram: new Set(["kind", "local", "remote"]),
  switch: new Set(["kind", "name"]),
  tap: new Set(["kind", "ifname"]),
};

function checkString(field: string, v: unknown, max: number, what: string): string {
  if (typeof v !== "string") throw new FieldError(field, `must be ${what} (a string), got ${describe(v)}`, v);
  if (v.length === 0) throw new FieldError(field, "must not be empty", v);
  if (v.length > max) throw new FieldError(field, `is longer than ${max} characters`, v.length);
  return v;
}

/** A host name or IP literal: no whitespace, NUL, commas or slashes (it reaches command lines and sockets). */
function checkHost(field: string, v: unknown): string {
  const h = checkString(field, v, MAX_HOST, "a host name or address");
  if (!/^[A-Za-z0-9.:_%-]+$/.test(h))
    throw new FieldError(field, `must be a host name or IP address, got ${describe(h)}`, h);
  return h;
}

/** A dotted-quad IPv4 address (user-mode NAT is IPv4 only for now; see net/node/passt.ts). */
function checkIpv4(field: string, v: unknown): string {
  const a = checkString(field, v, MAX_HOST, "an IPv4 address");
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m || m.slice(1).some((o) => Number(o) > 255))
    throw new FieldError(field, `must be an IPv4 address like 192.0.2.53, got ${describe(a)}`, a);
  return a;
}

function checkName(field: string, v: unknown, what: string): string {
  const s = checkString(field, v, 64, what);
  if (!NET_NAME_PATTERN.test(s))
    throw new FieldError(field, `must be letters, digits, '_', '.', '-', got ${describe(s)}`, s);
  return s;
}

export function checkNetAddress(field: string, v: unknown, minPort = 1): NetAddress {
  if (!isRecord(v)) throw new FieldError(field, `must be an object, got ${describe(v)}`, v);
  const type = checkEnum(`${field}.type`, v.type, ["inet", "unix"] as const, "inet");
  if (type === "unix") {
    checkKeys(field, v, new Set(["type", "path"]));
    const path = checkPath(`${field}.path`, v.path);
    if (new TextEncoder().encode(path).length > MAX_UNIX_PATH)
      throw new FieldError(
        `${field}.path`,
        `is longer than a Unix socket path may be (${MAX_UNIX_PATH} bytes)`,
        path,
      );
    return { type, path };
  }
  checkKeys(field, v, new Set(["type", "host", "port"]));
  if (v.port === undefined) throw new FieldError(`${field}.port`, "is required", v.port);
  return {
    type,
    host: checkHost(`${field}.host`, v.host),
    port: checkInt(`${field}.port`, v.port, 0, minPort, 65535),
  };
}

function checkHostForward(field: string, v: unknown): HostForward {
  if (!isRecord(v)) throw new FieldError(field, `must be an object, got ${describe(v)}`, v);
  checkKeys(field, v, new Set(["proto", "hostAddr", "hostPort", "guestAddr", "guestPort"]));
  for (const k of ["hostPort", "guestPort"])
    if (v[k] === undefined) throw new FieldError(`${field}.${k}`, "is required", undefined);
  const fwd: HostForward = {
    proto: checkEnum(`${field}.proto`, v.proto, ["tcp", "udp"] as const, "tcp"),
    hostPort: checkInt(`${field}.hostPort`, v.hostPort, 0, 1, 65535),
    guestPort: checkInt(`${field}.guestPort`, v.guestPort, 0, 1, 65535),
  };
  if (v.hostAddr !== undefined) fwd.hostAddr = checkHost(`${field}.hostAddr`, v.hostAddr);
  if (v.guestAddr !== undefined) fwd.guestAddr = checkHost(`${field}.guestAddr`, v.guestAddr);
  return fwd;
}

export function checkNicBackend(field: string, v: unknown): NicBackendSpec {
  if (v === undefined) return { kind: "hub" };
  if (!isRecord(v)) throw new FieldError(field, `must be an object, got ${describe(v)}`, v);
  const kind = checkEnum(`${field}.kind`, v.kind, NIC_BACKEND_KINDS, "hub");
  checkKeys(field, v, BACKEND_FIELDS[kind]);
  switch (kind) {
    case "hub":
      return v.network === undefined
        ? { kind }
        : { kind, network: checkName(`${field}.network`, v.network, "a network name") };
    case "user": {
      const hostfwd = checkArray(`${field}.hostfwd`, v.hostfwd, MAX_HOSTFWD).map((f, i) =>
        checkHostForward(`${field}.hostfwd[${i}]`, f),
      );
      const seen = new Set<string>();
      hostfwd.forEach((f, i) => {
        const key = `${f.proto}:${f.hostAddr ?? ""}:${f.hostPort}`;
        if (seen.has(key))
          throw new FieldError(
            `${field}.hostfwd[${i}]`,
            `host ${f.proto} port ${f.hostPort} is forwarded twice`,
            key,
          );
        seen.add(key);
      });
      const out: NicBackendSpec = { kind, hostfwd };
      if (v.hostDns !== undefined)
        out.hostDns = checkArray(`${field}.hostDns`, v.hostDns, MAX_HOST_DNS).map((d, i) =>
          checkIpv4(`${field}.hostDns[${i}]`, d),
        );
      return out;
    }
    case "stream": {
      const server = checkBool(`${field}.server`, v.server, false);
      // A server may listen on port 0 (the kernel picks one); a client needs a real port.
      const out: NicBackendSpec = {
        kind,
        server,
        addr: checkNetAddress(`${field}.addr`, v.addr, server ? 0 : 1),
      };
      if (v.reconnect !== undefined) {
        // QEMU's reconnect=SECONDS retries a client's lost connection; a listener just waits.
        if (server)
          throw new FieldError(
            `${field}.reconnect`,
            "applies only to a connecting stream (server off)",
            v.reconnect,
          );
        out.reconnect = checkInt(`${field}.reconnect`, v.reconnect, 0, 1, 86400);
      }
      return out;
    }
    case "dgram": {
      const out: NicBackendSpec = { kind };
      if (v.local !== undefined) out.local = checkNetAddress(`${field}.local`, v.local, 0);
      if (v.remote !== undefined) out.remote = checkNetAddress(`${field}.remote`, v.remote);
      if (out.local === undefined && out.remote === undefined)
        throw new FieldError(field, "a datagram NIC needs a local or a remote address", v);
      return out;
    }
    case "switch":
      return { kind, name: checkName(`${field}.name`, v.name, "a switch name") };
    case "tap": {
      const ifname = checkString(`${field}.ifname`, v.ifname, MAX_IFNAME, "an interface name");
      // dev_valid_name() in net/core/dev.c: no '/', ':' or whitespace, not "." or "..".
      if (!/^[^/:\s]+$/.test(ifname) || ifname === "." || ifname === "..")
        throw new FieldError(`${field}.ifname`, `is not a valid interface name: ${describe(ifname)}`, ifname);
      return { kind, ifname };
    }
  }
}

/** Check one NIC of untrusted input and return it normalized (MAC in canonical form, backend filled). */
export function checkNic(field: string, v: unknown): NicSpec {
  if (!isRecord(v)) throw new FieldError(field, `must be an object, got ${describe(v)}`, v);
  checkKeys(field, v, NIC_FIELDS);
  const nic: NicSpec = { backend: checkNicBackend(`${field}.backend`, v.backend) };
  if (v.mac !== undefined) {
    if (typeof v.mac !== "string")
      throw new FieldError(`${field}.mac`, `must be a MAC address string, got ${describe(v.mac)}`, v.mac);
    // Normalized, so a spec read back compares equal to what the guest sees.
    nic.mac = formatMac(parseMac(v.mac, `${field}.mac`));
  }
  if (v.pcap !== undefined) nic.pcap = checkPath(`${field}.pcap`, v.pcap);
  return nic;
}
