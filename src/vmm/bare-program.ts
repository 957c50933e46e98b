/**
 * The bare-program run (`--bios none`: one ELF in M-mode with HTIF, as on Spike) as the VMM offers it to
 * front ends. The runner is a machine of its own (`machine/bare-runner.ts`); front ends reach it here, so
 * they import the core only through `vmm/`.
 */
export {
  BARE_MAX_HARTS,
  BARE_RAM_BASE,
  type BareRunOptions,
  type BareRunResult,
  runBareElf,
} from "../machine/bare-runner.js";
