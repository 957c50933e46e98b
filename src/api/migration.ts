/** Bodies of live migration: the request to the source daemon and its report (docs/migration.md). */
import { type Static, Type } from "@sinclair/typebox";

export const MigrateRequest = Type.Object(
  {
    to: Type.String({
      minLength: 3,
      maxLength: 300,
      pattern: "^[^\\s/@]+:[0-9]{1,5}$",
      description: "the destination daemon's TCP API address, HOST:PORT",
    }),
    token: Type.String({
      minLength: 1,
      maxLength: 1024,
      description: "the destination daemon's API token (the CLI reads it from --token-file)",
    }),
    maxDowntimeMs: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 600000, description: "downtime target in ms (default 300)" }),
    ),
    copyStorage: Type.Optional(
      Type.Boolean({
        description:
          "copy the disks along while the guest runs (writes mirrored); the destination creates them under its <state-dir>/disks/VM/",
      }),
    ),
  },
  { additionalProperties: false },
);
export type MigrateRequest = Static<typeof MigrateRequest>;

const Count = Type.Integer({ minimum: 0 });
export const MigrateResult = Type.Object(
  {
    to: Type.String(),
    rounds: Type.Integer({ minimum: 0, description: "pre-copy rounds, the first full pass included" }),
    bytes: Count,
    pages: Type.Integer({ minimum: 0, description: "4 KiB pages sent, re-sent pages counted each time" }),
    pagesAtStop: Type.Integer({ minimum: 0, description: "pages sent while the guest was stopped" }),
    converged: Type.Boolean({ description: "false: rounds ran out or stalled before the target was met" }),
    totalMs: Type.Number({ minimum: 0 }),
    downtimeMs: Type.Number({ minimum: 0, description: "guest paused here until resumed there" }),
    bytesPerSec: Type.Number({ minimum: 0 }),
    diskBytes: Type.Integer({ minimum: 0, description: "disk bytes sent with copyStorage (0 without)" }),
    diskChunksAtStop: Type.Integer({
      minimum: 0,
      description: "32 KiB disk chunks sent while the guest was stopped (copyStorage)",
    }),
  },
  { additionalProperties: false },
);
export type MigrateResult = Static<typeof MigrateResult>;

/** Default downtime target, as QEMU's downtime-limit (300 ms). */
export const DEFAULT_MAX_DOWNTIME_MS = 300;
