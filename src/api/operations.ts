/** The /v1 operations: one table that the daemon's router validates with and the OpenAPI document describes. */
import type { TSchema } from "@sinclair/typebox";
import {
  BalloonRequest,
  CpuRequest,
  ErrorBody,
  RestoreRequest,
  SaveRequest,
  SaveResult,
  StopRequest,
  SwitchCreateRequest,
  SwitchInfo,
  SwitchList,
  VmInfo,
  VmList,
  VmNameParams,
  VmStats,
} from "./messages.js";
import { MigrateRequest, MigrateResult } from "./migration.js";
import {
  CloneRequest,
  SnapshotCreateRequest,
  SnapshotList,
  SnapshotParams,
  SnapshotResult,
} from "./snapshots.js";
import { VmDefinition, VmUpdate } from "./vm-spec.js";

export type HttpMethod = "get" | "post" | "patch" | "delete";

export interface ResponseSpec {
  description: string;
  schema?: TSchema;
  /** Default application/json. */
  contentType?: string;
}

export interface Operation {
  operationId: string;
  method: HttpMethod;
  /** OpenAPI path template, e.g. /v1/vms/{name}. */
  path: string;
  summary: string;
  params?: TSchema;
  body?: TSchema;
  /** A WebSocket upgrade (GET with Upgrade: websocket). */
  websocket?: boolean;
  responses: Record<string, ResponseSpec>;
}

const err = (description: string): ResponseSpec => ({ description, schema: ErrorBody });
const notFound = err("no VM of that name");
const conflict = err("the VM is not in a state that allows this");
const badRequest = err("invalid request; `field` names the bad field");

/** A VM action: POST /v1/vms/{name}/ACTION returning the VM's new description. */
function action(name: string, summary: string, body?: TSchema): Operation {
  return {
    operationId: `${name}Vm`,
    method: "post",
    path: `/v1/vms/{name}/${name}`,
    summary,
    params: VmNameParams,
    body,
    responses: {
      "200": { description: "done", schema: VmInfo },
      "400": badRequest,
      "404": notFound,
      "409": conflict,
    },
  };
}

export const OPERATIONS: Operation[] = [
  {
    operationId: "listSwitches",
    method: "get",
    path: "/v1/switches",
    summary: "list the named switches (made when a VM first joins one; they live until the daemon stops)",
    responses: { "200": { description: "every switch", schema: SwitchList } },
  },
  {
    operationId: "createSwitch",
    method: "post",
    path: "/v1/switches",
    summary:
      "make a named switch now, optionally with a NAT uplink (or give an existing switch one); it lives until the daemon stops",
    body: SwitchCreateRequest,
    responses: {
      "201": { description: "made", schema: SwitchInfo },
      "400": badRequest,
      "409": err("the switch exists (with a NAT uplink, or none was asked for)"),
    },
  },
  {
    operationId: "listVms",
    method: "get",
    path: "/v1/vms",
    summary: "list VMs",
    responses: { "200": { description: "every defined VM", schema: VmList } },
  },
  {
    operationId: "defineVm",
    method: "post",
    path: "/v1/vms",
    summary: "define a VM (validated, disks' formats probed and recorded, persisted)",
    body: VmDefinition,
    responses: {
      "201": { description: "defined", schema: VmInfo },
      "400": badRequest,
      "409": err("a VM of that name exists"),
    },
  },
  {
    operationId: "inspectVm",
    method: "get",
    path: "/v1/vms/{name}",
    summary: "one VM's definition and state",
    params: VmNameParams,
    responses: { "200": { description: "the VM", schema: VmInfo }, "400": badRequest, "404": notFound },
  },
  {
    operationId: "updateVm",
    method: "patch",
    path: "/v1/vms/{name}",
    summary: "change a VM's definition while it is not running",
    params: VmNameParams,
    body: VmUpdate,
    responses: {
      "200": { description: "updated", schema: VmInfo },
      "400": badRequest,
      "404": notFound,
      "409": conflict,
    },
  },
  {
    operationId: "deleteVm",
    method: "delete",
    path: "/v1/vms/{name}",
    summary: "delete a VM that is not running (its disks are left alone)",
    params: VmNameParams,
    responses: { "204": { description: "deleted" }, "400": badRequest, "404": notFound, "409": conflict },
  },
  action("start", "start the VM in its own process"),
  action("stop", "power button: ask the guest to power off, kill after the timeout", StopRequest),
  action("kill", "end the VM's process at once"),
  action("pause", "stop running guest code (the process stays)"),
  action("resume", "continue a paused VM"),
  action(
    "cpu",
    "change the CPU weight and cap, also while the VM runs (stored in its definition)",
    CpuRequest,
  ),
  action(
    "balloon",
    "set the memory the guest may keep: its balloon inflates to the rest (virtio-balloon; needs a guest driver)",
    BalloonRequest,
  ),
  {
    ...action("save", "pause the VM and write its complete state to a file", SaveRequest),
    responses: {
      "200": { description: "saved; the VM stays paused", schema: SaveResult },
      "400": badRequest,
      "404": notFound,
      "409": conflict,
    },
  },
  {
    ...action(
      "migrate",
      "live-migrate the running VM to another daemon (pre-copy); the VM is then the destination's",
      MigrateRequest,
    ),
    responses: {
      "200": { description: "migrated; the VM is gone from this daemon", schema: MigrateResult },
      "400": badRequest,
      "404": notFound,
      "409": err("the VM is not running, or the migration failed (the VM runs on here)"),
    },
  },
  {
    operationId: "migrateIncoming",
    method: "get",
    path: "/v1/migrations/incoming",
    summary:
      "WebSocket: a source daemon's VM process streams a live migration in (docs/migration.md); the VM is defined here in state `incoming` and removed again if the stream fails",
    websocket: true,
    responses: { "101": { description: "switching to WebSocket" }, "401": err("missing or wrong token") },
  },
  {
    operationId: "restoreVm",
    method: "post",
    path: "/v1/restore",
    summary: "restore a state file into a new (or stopped) VM and resume it",
    body: RestoreRequest,
    responses: {
      "200": { description: "restored and running", schema: VmInfo },
      "400": badRequest,
      "409": conflict,
    },
  },
  {
    operationId: "listSnapshots",
    method: "get",
    path: "/v1/vms/{name}/snapshots",
    summary: "the VM's snapshot tree and current position",
    params: VmNameParams,
    responses: {
      "200": { description: "snapshots", schema: SnapshotList },
      "400": badRequest,
      "404": notFound,
    },
  },
  {
    operationId: "createSnapshot",
    method: "post",
    path: "/v1/vms/{name}/snapshots",
    summary:
      "snapshot every writable qcow2 disk and, for a running or paused VM, the machine state (kept in the first writable qcow2 disk)",
    params: VmNameParams,
    body: SnapshotCreateRequest,
    responses: {
      "201": { description: "taken", schema: SnapshotResult },
      "400": badRequest,
      "404": notFound,
      "409": conflict,
    },
  },
  {
    operationId: "revertSnapshot",
    method: "post",
    path: "/v1/vms/{name}/snapshots/{snapshot}/revert",
    summary:
      "go back to a snapshot: a running VM continues from its machine state in place, a stopped VM gets its disks",
    params: SnapshotParams,
    responses: {
      "200": { description: "reverted", schema: SnapshotResult },
      "400": badRequest,
      "404": err("no VM or snapshot of that name"),
      "409": conflict,
    },
  },
  {
    operationId: "deleteSnapshot",
    method: "delete",
    path: "/v1/vms/{name}/snapshots/{snapshot}",
    summary: "delete a snapshot, freeing what only it held; its children move to its parent",
    params: SnapshotParams,
    responses: {
      "200": { description: "deleted", schema: SnapshotResult },
      "400": badRequest,
      "404": err("no VM or snapshot of that name"),
      "409": conflict,
    },
  },
  {
    operationId: "cloneVm",
    method: "post",
    path: "/v1/vms/{name}/clone",
    summary:
      "define a copy of a stopped VM (full or linked, of its current state or a snapshot) with new MACs",
    params: VmNameParams,
    body: CloneRequest,
    responses: {
      "201": { description: "the clone, defined", schema: VmInfo },
      "400": badRequest,
      "404": notFound,
      "409": conflict,
    },
  },
  {
    operationId: "vmStats",
    method: "get",
    path: "/v1/vms/{name}/stats",
    summary: "the VM's counters",
    params: VmNameParams,
    responses: { "200": { description: "stats", schema: VmStats }, "400": badRequest, "404": notFound },
  },
  {
    operationId: "vmConsole",
    method: "get",
    path: "/v1/vms/{name}/console",
    summary:
      "WebSocket: binary frames carry console bytes both ways; recent output is replayed first; several viewers may attach",
    params: VmNameParams,
    websocket: true,
    responses: { "101": { description: "switching to WebSocket" }, "404": notFound, "409": conflict },
  },
  {
    operationId: "events",
    method: "get",
    path: "/v1/events",
    summary: "server-sent events: one `data:` JSON line (VmEvent) per VM state change",
    responses: { "200": { description: "event stream", contentType: "text/event-stream" } },
  },
  {
    operationId: "openapi",
    method: "get",
    path: "/v1/openapi.json",
    summary: "this document",
    responses: { "200": { description: "OpenAPI 3.1 document" } },
  },
  {
    operationId: "metrics",
    method: "get",
    path: "/metrics",
    summary: "Prometheus text exposition of every VM's stats",
    responses: { "200": { description: "metrics", contentType: "text/plain; version=0.0.4" } },
  },
];
