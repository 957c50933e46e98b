/** `tvisor image`: qemu-img style disk image tools, one subcommand per file under cli/image/. */
import type { Command } from "commander";
import { registerCheck } from "./image/check.js";
import { registerConvert } from "./image/convert.js";
import { registerCreate } from "./image/create.js";
import { registerInfo } from "./image/info.js";
import { registerRebase } from "./image/rebase.js";
import { registerResize } from "./image/resize.js";
import { registerSnapshot } from "./image/snapshot.js";

export function registerImageCommand(program: Command): void {
  const image = program
    .command("image")
    .description("create, inspect, check and convert disk images (qemu-img compatible)");
  registerCreate(image);
  registerInfo(image);
  registerCheck(image);
  registerConvert(image);
  registerSnapshot(image);
  registerResize(image);
  registerRebase(image);
}
