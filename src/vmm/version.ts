/** tvisor's version, recorded in state files (keep in step with package.json). */
export const TVISOR_VERSION = "0.1.0";
