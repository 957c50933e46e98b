/** The VM process: `tvisor daemon` forks this for each running VM (one machine per process). */
import { runVmProcess } from "../daemon/vm-process.js";

runVmProcess();
