import assert from "node:assert/strict";
import { test } from "node:test";
import { ApiError } from "./api-error.js";
import { DiskLocks } from "./disk-locks.js";

test("a writable disk belongs to one VM; read-only disks may be shared", () => {
  const locks = new DiskLocks();
  locks.acquire("a", [{ path: "/img/shared.qcow2", readOnly: true }, { path: "/img/a.qcow2" }]);
  locks.acquire("b", [{ path: "/img/shared.qcow2", readOnly: true }]);
  assert.throws(
    () => locks.acquire("c", [{ path: "/img/a.qcow2", readOnly: true }]),
    (e: unknown) => e instanceof ApiError && e.status === 409 && /in use by VM "a"/.test(e.message),
  );
  assert.throws(() => locks.acquire("c", [{ path: "/img/shared.qcow2" }]), /in use by VM "a" \(read-only\)/);
  // All or nothing: the refused VM holds nothing afterwards.
  assert.throws(() => locks.acquire("d", [{ path: "/img/free.img" }, { path: "/img/a.qcow2" }]), /in use/);
  locks.acquire("e", [{ path: "/img/free.img" }]);
  assert.throws(() => locks.acquire("f", [{ path: "/img/x.img" }, { path: "/img/x.img" }]), /attached twice/);
  locks.release("a");
  locks.acquire("c", [{ path: "/img/a.qcow2" }]);
});
