/** Request and response bodies of the snapshot and clone operations (/v1/vms/{name}/snapshots, /clone). */
import { type Static, Type } from "@sinclair/typebox";
import { Name } from "./vm-spec.js";

const Counter = Type.Integer({ minimum: 0 });

export const SnapshotParams = Type.Object({ name: Name, snapshot: Name }, { additionalProperties: false });
export type SnapshotParams = Static<typeof SnapshotParams>;

/** One snapshot in a VM's tree, as the daemon records it beside the definition. */
export const SnapshotInfo = Type.Object(
  {
    name: Name,
    parent: Type.Union([Name, Type.Null()], {
      description: "the snapshot this one was taken after; null: a root",
    }),
    createdAt: Type.String({ description: "ISO time" }),
    disks: Type.Array(Counter, { description: "indexes of the disks holding it (the writable ones)" }),
    stateDisk: Type.Union([Counter, Type.Null()], {
      description:
        "the disk whose qcow2 VM-state area holds the machine state; null: disks only (taken while stopped)",
    }),
    vmStateBytes: Counter,
  },
  { additionalProperties: false },
);
export type SnapshotInfo = Static<typeof SnapshotInfo>;

export const SnapshotList = Type.Object(
  {
    current: Type.Union([Name, Type.Null()], {
      description: "the snapshot the VM's current state descends from (the tree's current position)",
    }),
    snapshots: Type.Array(SnapshotInfo),
  },
  { additionalProperties: false },
);
export type SnapshotList = Static<typeof SnapshotList>;

export const SnapshotCreateRequest = Type.Object({ name: Name }, { additionalProperties: false });
export type SnapshotCreateRequest = Static<typeof SnapshotCreateRequest>;

const Ms = Type.Number({ minimum: 0 });

/** How a running VM's snapshot wrote its RAM while the guest ran, and where the pause went (ms). */
export const SnapshotPrecopy = Type.Object(
  {
    rounds: Type.Integer({
      minimum: 1,
      description: "passes over RAM while the guest ran, the first full one included",
    }),
    precopyMs: Ms,
    pagesWhileRunning: Counter,
    pagesAtPause: Type.Integer({ minimum: 0, description: "4 KiB pages still dirty when the guest stopped" }),
    stopMs: Ms,
    drainMs: Ms,
    ramMs: Ms,
    devicesMs: Ms,
    disksMs: Type.Number({ minimum: 0, description: "the disks' internal snapshots" }),
  },
  { additionalProperties: false },
);
export type SnapshotPrecopy = Static<typeof SnapshotPrecopy>;

/** What a snapshot verb did; `pauseMs` is how long the guest was stopped (0 for a VM not running). */
export const SnapshotResult = Type.Object(
  {
    snapshot: Type.Optional(SnapshotInfo),
    pauseMs: Type.Number({ minimum: 0 }),
    precopy: Type.Optional(SnapshotPrecopy),
    tree: SnapshotList,
  },
  { additionalProperties: false },
);
export type SnapshotResult = Static<typeof SnapshotResult>;

export const CloneRequest = Type.Object(
  {
    name: Name,
    linked: Type.Optional(
      Type.Boolean({ description: "qcow2 overlays backed by the source's disks instead of copies" }),
    ),
    snapshot: Type.Optional(Name),
    compress: Type.Optional(Type.Boolean({ description: "a full clone's disks with compressed clusters" })),
  },
  { additionalProperties: false },
);
export type CloneRequest = Static<typeof CloneRequest>;
