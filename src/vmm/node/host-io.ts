/**
 * The Node host I/O a front end hands to a VM: the stdio console and the host clock. They live in
 * `io/node/`; the VMM re-exports them so front ends (`cli/`, `daemon/`) reach the core only through `vmm/`.
 */
export { hostClock } from "../../io/node/clock.js";
export { ConsoleEscape, ESCAPE_HELP } from "../../io/node/console-escape.js";
export {
  type ConsoleInput,
  type ConsoleOutput,
  StdioConsole,
  type StdioConsoleOptions,
} from "../../io/node/stdio-console.js";
