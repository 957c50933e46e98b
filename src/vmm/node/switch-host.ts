/**
 * Named virtual switches for front ends: `tvisor switch NAME` serves one in the foreground. They live in
 * `net/node/`; the VMM re-exports them so front ends reach the core only through `vmm/`.
 */
export { switchDirOf } from "../../base/node/state-dir.js";
export { SwitchServer, switchSocketPath } from "../../net/node/switch-server.js";
