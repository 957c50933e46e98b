/**
 * `--nic`: QEMU's `-nic`/`-netdev` option syntax (QEMU docs, "Network options") parsed into the VMM's
 * NicSpec, for `tvisor run` and the daemon's `create` alike. This is the only parser of that syntax.
 *
 *   user[,hostfwd=[tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT]...[,hostdns=ADDR]...
 *   socket,listen=[HOST]:PORT | socket,connect=HOST:PORT[,reconnect=SECONDS]   (stream, QEMU's length framing)
 *   socket,mcast=GROUP:PORT[,localaddr=ADDR] | socket,udp=HOST:PORT,localaddr=HOST:PORT   (dgram)
 *   stream,server=on|off,addr.type=inet|unix,addr.host=H,addr.port=P | addr.path=PATH[,reconnect=SECONDS]
 *   dgram,remote.type=inet,remote.host=H,remote.port=P[,local.type=...,local.host=...,local.port=...]
 *   switch=NAME | switch,name=NAME
 *   tap,ifname=NAME
 *   NETWORK                                                         (the daemon's switch NETWORK)
 * each with optional `,mac=52:54:00:..` and `,pcap=FILE`. As in QEMU, `,,` is a literal comma in a value.
 * Values are checked only for shape here; `validateVmSpec` checks ranges and reports them as `--nic`.
 */
import { UserError } from "../base/errors.js";
import type { HostForward, NetAddress, NicBackendSpec, NicSpecInput } from "../vmm/vm-spec.js";

const KINDS = ["user", "socket", "stream", "dgram", "switch", "tap"];
const NETWORK_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

function fail(text: string, why: string): never {
  throw new UserError(`--nic: ${why} in "${text}"`);
}

/** Split on commas, QEMU's way: `,,` is a comma inside a value. */
export function splitOptions(text: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== ",") cur += text[i];
    else if (text[i + 1] === ",") {
      cur += ",";
      i++;
    } else {
      parts.push(cur);
      cur = "";
    }
  }
  parts.push(cur);
  return parts;
}

function port(text: string, v: string, what: string): number {
  if (!/^\d{1,5}$/.test(v)) fail(text, `${what} "${v}" is not a port number`);
  return Number(v);
}

/** "[HOST]:PORT" with an optional IPv6 literal in brackets; `dflt` when the host is empty. */
function hostPort(text: string, v: string, what: string, dflt?: string): { host: string; port: number } {
  const m = /^(\[[^\]]*\]|[^:]*):([^:]+)$/.exec(v);
  if (!m) fail(text, `${what} "${v}" is not HOST:PORT`);
  const host = m[1].startsWith("[") ? m[1].slice(1, -1) : m[1];
  if (host === "" && dflt === undefined) fail(text, `${what} "${v}" needs a host`);
  return { host: host === "" ? (dflt as string) : host, port: port(text, m[2], what) };
}

/** QEMU's hostfwd rule: [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT. */
export function parseHostForward(rule: string, text = rule): HostForward {
  const m = /^(tcp|udp|):(\[[^\]]*\]|[^:\-[\]]*):(\d+)-(\[[^\]]*\]|[^:\-[\]]*):(\d+)$/.exec(rule);
  if (!m)
    fail(
      text,
      `hostfwd "${rule}" is not [tcp|udp]:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT (e.g. tcp:127.0.0.1:2222-:22)`,
    );
  const unbracket = (s: string) => (s.startsWith("[") ? s.slice(1, -1) : s);
  const f: HostForward = {
    proto: m[1] === "udp" ? "udp" : "tcp",
    hostPort: port(text, m[3], "host port"),
    guestPort: port(text, m[5], "guest port"),
  };
  if (m[2] !== "") f.hostAddr = unbracket(m[2]);
  if (m[4] !== "") f.guestAddr = unbracket(m[4]);
  return f;
}

/** QEMU 7.2's SocketAddress in dotted keys: PREFIX.type=inet|unix, PREFIX.host/.port or PREFIX.path. */
function dottedAddress(text: string, opts: Map<string, string>, prefix: string): NetAddress | undefined {
  const get = (k: string) => {
    const v = opts.get(`${prefix}.${k}`);
    opts.delete(`${prefix}.${k}`);
    return v;
  };
  const type = get("type");
  const host = get("host");
  const p = get("port");
  const path = get("path");
  if (type === undefined && host === undefined && p === undefined && path === undefined) return undefined;
  if (type === "unix" || (type === undefined && path !== undefined)) {
    if (path === undefined) fail(text, `${prefix}.type=unix needs ${prefix}.path`);
    if (host !== undefined || p !== undefined) fail(text, `${prefix}.type=unix takes only ${prefix}.path`);
    return { type: "unix", path };
  }
  if (type !== undefined && type !== "inet") fail(text, `${prefix}.type must be inet or unix, got "${type}"`);
  if (path !== undefined) fail(text, `${prefix}.path needs ${prefix}.type=unix`);
  if (p === undefined) fail(text, `${prefix}.port is required with ${prefix}.type=inet`);
  return { type: "inet", host: host ?? "0.0.0.0", port: port(text, p, `${prefix}.port`) };
}

function onOff(text: string, key: string, v: string): boolean {
  if (["on", "yes", "true", ""].includes(v)) return true;
  if (["off", "no", "false"].includes(v)) return false;
  fail(text, `${key} must be on or off, got "${v}"`);
}

/** A whole number of seconds (range checked by the spec validator). */
function seconds(text: string, v: string): number {
  if (!/^\d{1,6}$/.test(v)) fail(text, `reconnect must be a number of seconds, got "${v}"`);
  return Number(v);
}

/** Parse one `--nic` value. */
export function parseNicFlag(text: string): NicSpecInput {
  const parts = splitOptions(text);
  let head = parts[0];
  const rest = parts.slice(1);
  // `switch=NAME` names its switch in the first option.
  if (head.startsWith("switch=")) {
    rest.unshift(`name=${head.slice(7)}`);
    head = "switch";
  }
  const opts = new Map<string, string>();
  const hostfwd: HostForward[] = [];
  const hostDns: string[] = [];
  for (const o of rest) {
    const eq = o.indexOf("=");
    const k = eq < 0 ? o : o.slice(0, eq);
    const v = eq < 0 ? "" : o.slice(eq + 1);
    if (k === "") fail(text, "an empty option");
    if (k === "hostfwd") hostfwd.push(parseHostForward(v, text));
    else if (k === "hostdns") hostDns.push(v);
    else if (opts.has(k)) fail(text, `option ${k} given twice`);
    else opts.set(k, v);
  }
  const take = (k: string) => {
    const v = opts.get(k);
    opts.delete(k);
    return v;
  };
  const nic: NicSpecInput = {};
  const mac = take("mac");
  if (mac !== undefined) nic.mac = mac;
  const pcap = take("pcap");
  if (pcap !== undefined) {
    if (pcap === "") fail(text, "pcap needs a file name");
    nic.pcap = pcap;
  }
  if (hostfwd.length > 0 && head !== "user") fail(text, "hostfwd is an option of user");
  if (hostDns.length > 0 && head !== "user") fail(text, "hostdns is an option of user");
  let backend: NicBackendSpec;
  switch (head) {
    case "user":
      backend = { kind: "user", hostfwd };
      // tvisor's own option (QEMU's slirp has none): the host-side resolvers passt relays the guest's DNS to.
      if (hostDns.length > 0) backend.hostDns = hostDns;
      break;
    case "socket": {
      const listen = take("listen");
      const connect = take("connect");
      const mcast = take("mcast");
      const udp = take("udp");
      const localaddr = take("localaddr");
      const given = [listen, connect, mcast, udp].filter((v) => v !== undefined).length;
      if (given !== 1) fail(text, "socket needs exactly one of listen=, connect=, mcast=, udp=");
      if (listen !== undefined || connect !== undefined) {
        if (localaddr !== undefined) fail(text, "localaddr goes with mcast= or udp=");
        const server = listen !== undefined;
        const a = hostPort(
          text,
          (listen ?? connect) as string,
          server ? "listen" : "connect",
          server ? "0.0.0.0" : undefined,
        );
        backend = { kind: "stream", server, addr: { type: "inet", ...a } };
        const reconnect = take("reconnect");
        if (reconnect !== undefined) backend.reconnect = seconds(text, reconnect);
      } else if (mcast !== undefined) {
        const group = hostPort(text, mcast, "mcast");
        backend = { kind: "dgram", remote: { type: "inet", ...group } };
        // QEMU's localaddr here is the interface address to join the group on (no port).
        if (localaddr !== undefined) backend.local = { type: "inet", host: localaddr, port: 0 };
      } else {
        if (localaddr === undefined) fail(text, "socket,udp= needs localaddr=HOST:PORT");
        backend = {
          kind: "dgram",
          remote: { type: "inet", ...hostPort(text, udp as string, "udp") },
          local: { type: "inet", ...hostPort(text, localaddr, "localaddr", "0.0.0.0") },
        };
      }
      break;
    }
    case "stream": {
      const server = onOff(text, "server", take("server") ?? "off");
      const addr = dottedAddress(text, opts, "addr");
      if (addr === undefined)
        fail(text, "stream needs addr.type=inet,addr.host=..,addr.port=.. or addr.type=unix,addr.path=..");
      backend = { kind: "stream", server, addr };
      const reconnect = take("reconnect");
      if (reconnect !== undefined) backend.reconnect = seconds(text, reconnect);
      break;
    }
    case "dgram": {
      const local = dottedAddress(text, opts, "local");
      const remote = dottedAddress(text, opts, "remote");
      if (local === undefined && remote === undefined)
        fail(text, "dgram needs local.* or remote.* addresses");
      backend = { kind: "dgram" };
      if (local !== undefined) backend.local = local;
      if (remote !== undefined) backend.remote = remote;
      break;
    }
    case "switch": {
      const name = take("name");
      if (!name) fail(text, "switch needs a name (switch=NAME)");
      backend = { kind: "switch", name };
      break;
    }
    case "tap": {
      const ifname = take("ifname");
      if (!ifname) fail(text, "tap needs ifname=NAME");
      backend = { kind: "tap", ifname };
      break;
    }
    default: {
      const network = head.startsWith("network=") ? head.slice(8) : head;
      if (!NETWORK_NAME.test(network))
        fail(
          text,
          `"${head}" is not a backend (${KINDS.join(", ")}) or a network name (letters, digits, '_', '.', '-')`,
        );
      backend = { kind: "hub", network };
    }
  }
  const unknown = [...opts.keys()];
  if (unknown.length > 0) fail(text, `unknown option "${unknown[0]}" for ${head}`);
  nic.backend = backend;
  return nic;
}

/**
 * The options of `user` alone, as a switch's `--nat [OPTIONS]` takes them (`hostfwd=...,hostdns=...`);
 * `true` (the bare flag) is no options. Errors name `flag`.
 */
export function parseNatOptions(
  flag: string,
  v: string | true,
): { hostfwd: HostForward[]; hostDns?: string[] } {
  let nic: NicSpecInput;
  try {
    nic = parseNicFlag(v === true || v === "" ? "user" : `user,${v}`);
  } catch (e) {
    if (e instanceof UserError) throw new UserError(e.message.replace(/^--nic:/, `${flag}:`));
    throw e;
  }
  const b = nic.backend;
  if (nic.mac !== undefined || nic.pcap !== undefined || b === undefined || b.kind !== "user")
    throw new UserError(`${flag}: only hostfwd= and hostdns= options, got "${v}"`);
  return b.hostDns === undefined ? { hostfwd: b.hostfwd } : { hostfwd: b.hostfwd, hostDns: b.hostDns };
}
