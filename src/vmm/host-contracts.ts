/**
 * The host-side contracts a VM is wired to (block, character and network backends), re-exported so front
 * ends (`daemon/`, `cli/`) that supply their own backends reach them through `vmm/`, as the layering asks.
 */
export type { BlockBackend } from "../io/block-backend.js";
export type { CharBackend } from "../io/char-backend.js";
export type { NetBackend, NetCounters } from "../io/net-backend.js";
export type { VmHost } from "./vm-host.js";
