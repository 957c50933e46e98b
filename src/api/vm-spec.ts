/** The VM definition on the wire and on disk: one TypeBox schema gives the validator, the TS type and OpenAPI. */
/*
 * The fields are the VMM's VmSpec (the options of `tvisor run`: kernel, initrd, append, bios, memBytes, cpus, disks, NICs, console),
 * plus what only a managed VM has: autostart and its resource limits. Every object is closed
 * (additionalProperties: false), so an unknown field is a 400 naming it rather than a silently ignored typo.
 */
import { type Static, Type } from "@sinclair/typebox";

/** VM and network names: they become file names in the state directory, so no slashes, no leading dot. */
export const NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$";
const MAC_PATTERN = "^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$";
/** Host paths: bounded so a definition stays small; NUL is never part of a path. */
const Path = (description: string) =>
  Type.String({ minLength: 1, maxLength: 4096, pattern: "^[^\\u0000]+$", description });

export const Name = Type.String({ pattern: NAME_PATTERN, description: "letters, digits, '_', '.', '-'" });

export const DiskSpec = Type.Object(
  {
    path: Path("image file on the daemon's host"),
    format: Type.Optional(
      Type.Union([Type.Literal("raw"), Type.Literal("qcow2")], {
        description: "probed once at define time when absent, then recorded",
      }),
    ),
    readOnly: Type.Optional(Type.Boolean({ description: "default false; read-only disks may be shared" })),
  },
  { additionalProperties: false },
);
export type DiskSpec = Static<typeof DiskSpec>;

const Port = (min: number, description: string) =>
  Type.Integer({ minimum: min, maximum: 65535, description });
const Host = Type.String({
  minLength: 1,
  maxLength: 253,
  pattern: "^[A-Za-z0-9.:_%-]+$",
  description: "host name or IP address",
});

/** A socket address: IP host and port, or a Unix socket path (sun_path: 107 bytes and the NUL). */
export const NetAddress = Type.Union([
  Type.Object(
    { type: Type.Literal("inet"), host: Host, port: Port(0, "TCP/UDP port (0: any, where listening)") },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      type: Type.Literal("unix"),
      path: Type.String({ minLength: 1, maxLength: 107, pattern: "^[^\\u0000]+$" }),
    },
    { additionalProperties: false },
  ),
]);

export const HostForward = Type.Object(
  {
    proto: Type.Union([Type.Literal("tcp"), Type.Literal("udp")]),
    hostAddr: Type.Optional(Host),
    hostPort: Port(1, "port on the host"),
    guestAddr: Type.Optional(Host),
    guestPort: Port(1, "port in the guest"),
  },
  { additionalProperties: false },
);

/** The host side of a NIC other than a daemon network (see the VMM's nic-spec.ts for each kind). */
export const NicBackend = Type.Union([
  Type.Object(
    {
      kind: Type.Literal("user"),
      hostfwd: Type.Optional(Type.Array(HostForward, { maxItems: 64, description: "port forwards" })),
      hostDns: Type.Optional(
        Type.Array(Type.String({ maxLength: 15 }), {
          maxItems: 3,
          description:
            "IPv4 resolvers the guest's DNS goes to, instead of the host's /etc/resolv.conf (127.0.0.1 is reached through the gateway)",
        }),
      ),
    },
    { additionalProperties: false, description: "user-mode NAT (passt in the VM's process)" },
  ),
  Type.Object(
    {
      kind: Type.Literal("stream"),
      server: Type.Optional(Type.Boolean()),
      addr: NetAddress,
      reconnect: Type.Optional(
        Type.Integer({
          minimum: 1,
          maximum: 86400,
          description: "client: retry a lost connection every N seconds",
        }),
      ),
    },
    { additionalProperties: false, description: "frames over a TCP or Unix stream (QEMU -netdev stream)" },
  ),
  Type.Object(
    { kind: Type.Literal("dgram"), local: Type.Optional(NetAddress), remote: Type.Optional(NetAddress) },
    { additionalProperties: false, description: "frames in UDP or Unix datagrams (QEMU -netdev dgram)" },
  ),
  Type.Object(
    { kind: Type.Literal("switch"), name: Type.String({ pattern: NAME_PATTERN }) },
    { additionalProperties: false, description: "a named virtual switch" },
  ),
  Type.Object(
    {
      kind: Type.Literal("tap"),
      ifname: Type.String({ minLength: 1, maxLength: 15, pattern: "^[^/:\\s]+$" }),
    },
    { additionalProperties: false, description: "a host TAP device (needs CAP_NET_ADMIN)" },
  ),
]);
export type NicBackend = Static<typeof NicBackend>;

export const NicSpec = Type.Object(
  {
    network: Type.Optional(
      Type.String({
        pattern: NAME_PATTERN,
        description:
          "NICs on the same network name share one virtual switch in the daemon (default 'default' when no backend is given)",
      }),
    ),
    backend: Type.Optional(NicBackend),
    mac: Type.Optional(
      Type.String({ pattern: MAC_PATTERN, description: "default: derived from the VM's name" }),
    ),
    pcap: Type.Optional(Path("write the NIC's traffic to this file (libpcap format)")),
  },
  { additionalProperties: false },
);
export type NicSpec = Static<typeof NicSpec>;

export const MIN_MEM_BYTES = 16 * 1024 * 1024;
export const MAX_MEM_BYTES = 4 * 1024 * 1024 * 1024;

/** The machine (the VMM's VmSpec fields, minus vmIndex which the daemon assigns): every field optional; the daemon fills defaults and records them at define time. */
const specFields = {
  kernel: Type.Optional(Path("Linux kernel (Image or Image.gz); default: the bundled guest")),
  initrd: Type.Optional(Path("initramfs; default with the bundled kernel: the bundled initramfs")),
  append: Type.Optional(Type.String({ maxLength: 4096, description: "kernel command line" })),
  bios: Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 4096,
      description: "'builtin' (default) or M-mode firmware path",
    }),
  ),
  memBytes: Type.Optional(
    Type.Integer({
      minimum: MIN_MEM_BYTES,
      maximum: MAX_MEM_BYTES,
      multipleOf: 4096,
      description: "guest RAM in bytes, a multiple of 4096 (default 256 MiB)",
    }),
  ),
  cpus: Type.Optional(Type.Integer({ minimum: 1, maximum: 8, description: "harts, default 1" })),
  disks: Type.Optional(Type.Array(DiskSpec, { maxItems: 8 })),
  nics: Type.Optional(Type.Array(NicSpec, { maxItems: 8 })),
  console: Type.Optional(
    Type.Union([Type.Literal("uart"), Type.Literal("virtio")], {
      description: "device the console WebSocket is attached to (default uart)",
    }),
  ),
  rng: Type.Optional(Type.Boolean({ description: "attach virtio-rng (default true)" })),
  freePageReporting: Type.Optional(
    Type.Boolean({
      description: "with the balloon, let the guest give free memory back on its own (default true)",
    }),
  ),
  balloon: Type.Optional(
    Type.Boolean({
      description: "attach virtio-balloon: memory target, statistics, free page reporting (default true)",
    }),
  ),
  noReboot: Type.Optional(
    Type.Boolean({ description: "a guest reset stops the VM instead of rebooting it" }),
  ),
  jit: Type.Optional(
    Type.Union([Type.Literal("on"), Type.Literal("off"), Type.Literal("always")], {
      description: "translate hot guest code to WebAssembly (default on)",
    }),
  ),
  jitCacheSize: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 1 << 20,
      description: "most translated regions kept per hart (default 8192)",
    }),
  ),
  autostart: Type.Optional(Type.Boolean({ description: "start when the daemon starts (default false)" })),
  cpuWeight: Type.Optional(
    Type.Integer({
      minimum: 1,
      maximum: 65535,
      description:
        "share of contended CPU, as Xen's credit weight (default 256): cgroup v1 cpu.shares = weight × 4, v2 cpu.weight = weight × 100 / 256; else a nice value",
    }),
  ),
  cpuCapPercent: Type.Optional(
    Type.Integer({
      minimum: 0,
      maximum: 800,
      description: "CPU ceiling in percent of one core even on an idle host (0 = none, the default)",
    }),
  ),
  memTargetBytes: Type.Optional(
    Type.Integer({
      minimum: 0,
      description: "memory the guest may keep after start: the daemon inflates the balloon to the rest",
    }),
  ),
  memOverheadMiB: Type.Optional(
    Type.Integer({
      minimum: 64,
      maximum: 4096,
      description: "process memory allowed beyond guest RAM (default 256); the VM is killed above it",
    }),
  ),
};

/** PATCH body: the machine fields to change (a VM is updated only while not running). */
export const VmUpdate = Type.Object(specFields, { additionalProperties: false });
export type VmUpdate = Static<typeof VmUpdate>;

/** POST /v1/vms body and the stored definition: a name plus the machine. */
export const VmDefinition = Type.Object({ name: Name, ...specFields }, { additionalProperties: false });
export type VmDefinition = Static<typeof VmDefinition>;

export const DEFAULT_MEM_BYTES = 256 * 1024 * 1024;
export const DEFAULT_MEM_OVERHEAD_MIB = 256;
/** Xen credit scheduler's default weight. */
export const DEFAULT_CPU_WEIGHT = 256;
