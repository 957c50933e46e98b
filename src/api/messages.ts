/** Request and response bodies of the /v1 API other than the VM definition itself (see vm-spec.ts). */
import { type Static, Type } from "@sinclair/typebox";
import { HostForward, Name, VmDefinition } from "./vm-spec.js";

/** Lifecycle: defined → running ⇄ paused → stopped, plus crashed (the VM's process died). */
export const VmState = Type.Union(
  [
    Type.Literal("defined"),
    Type.Literal("running"),
    Type.Literal("paused"),
    Type.Literal("stopped"),
    Type.Literal("crashed"),
    Type.Literal("incoming"),
  ],
  {
    description:
      "defined (never started), running, paused, stopped, crashed, incoming (a live migration is arriving)",
  },
);
export type VmState = Static<typeof VmState>;

export const VmInfo = Type.Object(
  {
    name: Name,
    state: VmState,
    definition: VmDefinition,
    /** Why the VM last stopped or crashed ("guest powered off", "killed by SIGKILL", ...). */
    reason: Type.Optional(Type.String()),
    pid: Type.Optional(Type.Integer({ description: "the VM process while running or paused" })),
    startedAt: Type.Optional(Type.String({ description: "ISO time of the last start" })),
    notes: Type.Optional(
      Type.Array(Type.String(), { description: "what the daemon decided at define time" }),
    ),
    cpu: Type.Optional(
      Type.Object(
        {
          weight: Type.Integer({ minimum: 1 }),
          capPercent: Type.Integer({ minimum: 0 }),
          mechanism: Type.Union(
            [Type.Literal("cgroup-v2"), Type.Literal("cgroup-v1"), Type.Literal("pacing")],
            {
              description:
                "how weight and cap are enforced: a cgroup per VM, or nice + SIGSTOP/SIGCONT pacing",
            },
          ),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type VmInfo = Static<typeof VmInfo>;

export const VmList = Type.Object({ vms: Type.Array(VmInfo) }, { additionalProperties: false });
export type VmList = Static<typeof VmList>;

/** One of the daemon's named switches (`--nic NETWORK` / `--nic switch=NAME`). */
export const SwitchInfo = Type.Object(
  {
    name: Type.String(),
    ports: Type.Integer({ minimum: 0, description: "VM NICs and socket connections attached" }),
    socket: Type.Union([Type.String(), Type.Null()], {
      description:
        "Unix socket other processes join on (QEMU stream framing), null if it could not be served",
    }),
    framesForwarded: Type.Integer({ minimum: 0 }),
    framesDropped: Type.Integer({ minimum: 0 }),
    natUplink: Type.Union([Type.Literal("up"), Type.Literal("down"), Type.Null()], {
      description: "the switch's NAT uplink (passt): running, between a death and its restart, or none",
    }),
  },
  { additionalProperties: false },
);
export type SwitchInfo = Static<typeof SwitchInfo>;

/** POST /v1/switches: make a switch now, optionally with a NAT uplink (one passt, one VM at a time uses it). */
export const SwitchCreateRequest = Type.Object(
  {
    name: Name,
    nat: Type.Optional(
      Type.Object(
        {
          hostfwd: Type.Optional(Type.Array(HostForward, { maxItems: 64, description: "port forwards" })),
          hostDns: Type.Optional(
            Type.Array(Type.String({ maxLength: 15 }), {
              maxItems: 3,
              description: "IPv4 resolvers instead of the host's /etc/resolv.conf",
            }),
          ),
        },
        { additionalProperties: false, description: "a NAT uplink, with --nic user's options" },
      ),
    ),
  },
  { additionalProperties: false },
);
export type SwitchCreateRequest = Static<typeof SwitchCreateRequest>;
export const SwitchList = Type.Object({ switches: Type.Array(SwitchInfo) }, { additionalProperties: false });
export type SwitchList = Static<typeof SwitchList>;

const Counter = Type.Integer({ minimum: 0 });

/** The guest's own view of its memory, from the balloon's statistics queue (virtio 1.2 §5.5.6.3). */
export const GuestMemoryStats = Type.Object(
  {
    freeBytes: Counter,
    availableBytes: Counter,
    cachedBytes: Counter,
    totalBytes: Counter,
    swapInBytes: Counter,
    swapOutBytes: Counter,
    majorFaults: Counter,
    minorFaults: Counter,
  },
  { additionalProperties: false },
);
export type GuestMemoryStats = Static<typeof GuestMemoryStats>;

/** Overcommit: the balloon, what went back to the host, and page sharing (KSM). */
export const VmMemoryStats = Type.Object(
  {
    balloon: Type.Boolean({ description: "the VM has a virtio-balloon device" }),
    targetBytes: Counter,
    balloonBytes: Type.Integer({ minimum: 0, description: "memory in the balloon (the driver's `actual`)" }),
    releasedBytes: Type.Integer({
      minimum: 0,
      description: "given back to the host: inflate + free page reporting",
    }),
    reportedBytes: Type.Integer({
      minimum: 0,
      description: "free memory the guest reported (free page reporting)",
    }),
    hostileInputs: Type.Integer({ minimum: 0, description: "PFNs outside RAM or given twice, ignored" }),
    releasesToHost: Type.Boolean({ description: "pages are given back with madvise(MADV_DONTNEED)" }),
    guest: Type.Optional(GuestMemoryStats),
    ksm: Type.Object(
      {
        hostRun: Type.Union([Type.Integer(), Type.Null()], {
          description: "/sys/kernel/mm/ksm/run (1 = merging); null: no KSM",
        }),
        shareable: Type.Boolean({ description: "guest RAM is marked MADV_MERGEABLE" }),
        mergingPages: Counter,
        savedBytes: Counter,
        note: Type.Optional(Type.String()),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);
export type VmMemoryStats = Static<typeof VmMemoryStats>;

export const CpuRequest = Type.Object(
  {
    weight: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 65535, description: "share of contended CPU" }),
    ),
    capPercent: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 800, description: "ceiling in percent of one core, 0 = none" }),
    ),
  },
  { additionalProperties: false },
);
export type CpuRequest = Static<typeof CpuRequest>;

export const BalloonRequest = Type.Object(
  {
    targetBytes: Type.Integer({
      minimum: 0,
      description: "memory the guest may keep; the balloon takes the rest (QEMU's `balloon` command)",
    }),
  },
  { additionalProperties: false },
);
export type BalloonRequest = Static<typeof BalloonRequest>;

export const VmStats = Type.Object(
  {
    name: Name,
    state: VmState,
    uptimeSec: Type.Number({ minimum: 0, description: "since the last start; 0 when not running" }),
    instructions: Counter,
    instructionsPerSec: Type.Number({ minimum: 0, description: "guest instructions retired per second" }),
    hostCpuPercent: Type.Number({ minimum: 0, description: "the VM process's CPU use, 100 = one core" }),
    hostCpuHistory: Type.Optional(
      Type.Array(Type.Number({ minimum: 0 }), {
        description: "hostCpuPercent of each of the last 60 samples (one a second), oldest first",
      }),
    ),
    rssBytes: Counter,
    guestRamBytes: Counter,
    disk: Type.Object(
      { readBytes: Counter, writeBytes: Counter, reads: Counter, writes: Counter, flushes: Counter },
      { additionalProperties: false },
    ),
    net: Type.Object(
      { rxBytes: Counter, txBytes: Counter, rxFrames: Counter, txFrames: Counter },
      { additionalProperties: false },
    ),
    nics: Type.Array(
      Type.Object(
        {
          rxFrames: Counter,
          rxBytes: Counter,
          txFrames: Counter,
          txBytes: Counter,
          rxDropped: Type.Integer({
            minimum: 0,
            description: "frames for the guest dropped (link down, no receive buffers, oversize)",
          }),
          txDropped: Type.Integer({
            minimum: 0,
            description: "frames from the guest dropped (malformed, link down, the backend's drops)",
          }),
        },
        { additionalProperties: false },
      ),
      { description: "each NIC's counters by position (rx: to the guest, tx: from it), kept across reboots" },
    ),
    memory: Type.Optional(VmMemoryStats),
  },
  { additionalProperties: false },
);
export type VmStats = Static<typeof VmStats>;

export const StopRequest = Type.Object(
  {
    timeoutSec: Type.Optional(
      Type.Number({ minimum: 0, maximum: 3600, description: "wait this long before killing (default 30)" }),
    ),
  },
  { additionalProperties: false },
);
export type StopRequest = Static<typeof StopRequest>;

export const SaveRequest = Type.Object(
  {
    file: Type.String({ minLength: 1, maxLength: 4096, description: "state file path on the daemon's host" }),
  },
  { additionalProperties: false },
);
export type SaveRequest = Static<typeof SaveRequest>;

export const RestoreRequest = Type.Object(
  {
    file: Type.String({ minLength: 1, maxLength: 4096, description: "state file path on the daemon's host" }),
    name: Type.Optional(Name),
  },
  { additionalProperties: false },
);
export type RestoreRequest = Static<typeof RestoreRequest>;

export const SaveResult = Type.Object(
  { file: Type.String(), bytes: Counter, ms: Type.Number({ minimum: 0 }) },
  { additionalProperties: false },
);
export type SaveResult = Static<typeof SaveResult>;

/** Every error: one line naming the VM or field at fault. */
export const ErrorBody = Type.Object(
  {
    error: Type.String(),
    field: Type.Optional(Type.String({ description: "the request field at fault, e.g. body.memMiB" })),
  },
  { additionalProperties: false },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** One event of GET /v1/events (server-sent events, `data:` lines carry this JSON). */
export const VmEvent = Type.Object(
  {
    time: Type.String(),
    vm: Name,
    kind: Type.Union([
      Type.Literal("defined"),
      Type.Literal("updated"),
      Type.Literal("deleted"),
      Type.Literal("state"),
    ]),
    state: Type.Optional(VmState),
    reason: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);
export type VmEvent = Static<typeof VmEvent>;

export const VmNameParams = Type.Object({ name: Name }, { additionalProperties: false });
export type VmNameParams = Static<typeof VmNameParams>;
