/** The TCP API's bearer token: generated at first start in <state-dir>/token (mode 0600), compared in constant time. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { chmod, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic-file.js";

export const TOKEN_FILE = "token";

/** Read the token, or create one (256 random bits, hex) when there is none. */
export async function loadOrCreateToken(stateDir: string): Promise<{ token: string; created: boolean }> {
  const path = join(stateDir, TOKEN_FILE);
  try {
    const token = (await readFile(path, "utf8")).trim();
    if (/^[0-9a-f]{64}$/.test(token)) {
      await chmod(path, 0o600);
      return { token, created: false };
    }
  } catch (e) {
    if ((e as { code?: string }).code !== "ENOENT") throw e;
  }
  const token = randomBytes(32).toString("hex");
  await writeFileAtomic(path, `${token}\n`, 0o600);
  return { token, created: true };
}

/**
 * Constant-time comparison. Hashing both sides first gives equal-length inputs to timingSafeEqual, so
 * neither the token's length nor its prefix leaks through timing.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(expected).digest();
  return timingSafeEqual(a, b);
}
