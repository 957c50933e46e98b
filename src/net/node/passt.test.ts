/** passt's command line from a user NIC's options (the process itself is tested in tests/boot/nat.test.ts). */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../../base/errors.js";
import { passtArgs, USER_NET } from "./passt.js";

function values(args: string[], opt: string): string[] {
  return args.flatMap((a, i) => (a === opt ? [args[i + 1]] : []));
}

test("without resolvers passt reads /etc/resolv.conf and forwards QEMU's DNS address", () => {
  const args = passtArgs({ hostfwd: [] });
  assert.deepEqual(values(args, "--dns"), []);
  assert.deepEqual(values(args, "--dns-forward"), [USER_NET.dns]);
});

test("a resolver on the host's 127.0.0.1 is given to the guest as the gateway; others as they are", () => {
  const args = passtArgs({ hostfwd: [], dns: ["127.0.0.1", "192.0.2.53"] });
  assert.deepEqual(values(args, "--dns"), [USER_NET.gateway, "192.0.2.53"]);
  // With -D this passt would forward 10.0.2.3 to 0.0.0.0: left out.
  assert.deepEqual(values(args, "--dns-forward"), []);
});

test("another loopback resolver is refused with a reason", () => {
  assert.throws(
    () => passtArgs({ hostfwd: [], dns: ["127.0.0.53"] }),
    (e: unknown) => e instanceof UserError && /only at 127\.0\.0\.1/.test(e.message),
  );
});
