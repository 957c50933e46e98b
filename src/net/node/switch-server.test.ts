/** The Unix-socket switch: stream clients and in-process ports on one learning switch; hostile and stalled clients. */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { StreamNetBackend } from "./stream-socket.js";
import { MAX_PORT_BACKLOG, SwitchServer, switchSocketPath } from "./switch-server.js";

const BCAST = [255, 255, 255, 255, 255, 255];

function frame(dst: number[], src: number, fill = 0, len = 64): Uint8Array {
  const f = new Uint8Array(len).fill(fill);
  f.set(dst, 0);
  f.set([2, 0, 0, 0, 0, src], 6);
  return f;
}

function mac(n: number): number[] {
  return [2, 0, 0, 0, 0, n];
}

/** Frames received by a backend; `next(k)` resolves once k have arrived. */
function collect(b: { onReceive(h: (f: Uint8Array) => void): void }) {
  const got: Uint8Array[] = [];
  let wake: [number, () => void] | null = null;
  b.onReceive((f) => {
    got.push(f.slice());
    if (wake && got.length >= wake[0]) wake[1]();
  });
  return {
    got,
    next: (k: number) =>
      got.length >= k
        ? Promise.resolve()
        : new Promise<void>((r) => {
            wake = [k, r];
          }),
  };
}

async function withSwitch(t: { after(fn: () => void): void }): Promise<{ sw: SwitchServer; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), "tvisor-switch-"));
  const sw = await SwitchServer.open({ name: "lab", path: switchSocketPath(join(dir, "switches"), "lab") });
  t.after(() => {
    sw.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { sw, dir };
}

async function join2(sw: SwitchServer): Promise<StreamNetBackend> {
  const b = await StreamNetBackend.open({ mode: "connect", address: { type: "unix", path: sw.path } });
  return b;
}

/** Resolves once the switch has `n` ports (connections are attached when accepted, asynchronously). */
async function ports(sw: SwitchServer, n: number): Promise<void> {
  while (sw.size < n) await new Promise<void>((r) => setImmediate(r));
}

test("clients on the socket and an in-process port share one learning switch", async (t) => {
  const { sw } = await withSwitch(t);
  const a = await join2(sw);
  const b = await join2(sw);
  t.after(() => {
    a.close();
    b.close();
  });
  const local = sw.port();
  const [ca, cb, cl] = [collect(a), collect(b), collect(local)];
  await ports(sw, 3);
  // A broadcast from A floods to B and the local port; A learns nothing back.
  a.send(frame(BCAST, 1, 0xa));
  await cb.next(1);
  await cl.next(1);
  // B answers A by unicast: only A gets it (the switch learned A's MAC on its connection).
  b.send(frame(mac(1), 2, 0xb));
  await ca.next(1);
  local.send(frame(mac(2), 3, 0xc));
  await cb.next(2);
  assert.deepEqual(ca.got, [frame(mac(1), 2, 0xb)]);
  assert.deepEqual(cb.got, [frame(BCAST, 1, 0xa), frame(mac(2), 3, 0xc)]);
  assert.deepEqual(cl.got, [frame(BCAST, 1, 0xa)], "a unicast to A never reached the local port");
});

test("a client sending a bad length is disconnected alone; the switch keeps serving", async (t) => {
  const { sw } = await withSwitch(t);
  const a = await join2(sw);
  t.after(() => a.close());
  const ca = collect(a);
  const bad: Socket = createConnection(sw.path);
  bad.on("error", () => {});
  const closed = new Promise<void>((r) => bad.once("close", () => r()));
  bad.once("connect", () => bad.write(Uint8Array.of(0xff, 0xff, 0xff, 0xff)));
  bad.resume();
  await closed;
  assert.equal(sw.counters.malformed, 1);
  const b = await join2(sw);
  t.after(() => b.close());
  await ports(sw, 2);
  b.send(frame(BCAST, 2));
  await ca.next(1);
  assert.equal(ca.got.length, 1);
});

test("a client that never reads gets a bounded backlog; the others keep receiving", async (t) => {
  const { sw } = await withSwitch(t);
  const stalled: Socket = createConnection(sw.path);
  stalled.on("error", () => {});
  await new Promise<void>((r) => stalled.once("connect", () => r()));
  stalled.pause();
  t.after(() => stalled.destroy());
  const reader = await join2(sw);
  t.after(() => reader.close());
  const cr = collect(reader);
  await ports(sw, 2);
  const local = sw.port();
  // 64 MB of broadcast: the reader drains its share, the stalled client's share stops at the bound.
  const n = 1000;
  const big = frame(BCAST, 9, 1, 65000);
  for (let i = 0; i < n; i++) {
    local.send(big);
    // One at a time: the reader's own backlog never nears the bound, so it loses nothing.
    await cr.next(i + 1);
  }
  assert.equal(cr.got.length, n);
  assert.ok(sw.counters.backlogDrops > 0, "frames to the stalled client were dropped");
  assert.ok(
    (n - sw.counters.backlogDrops) * 65004 < MAX_PORT_BACKLOG + (16 << 20),
    "what was queued toward the stalled client is bounded",
  );
});

test("a second switch on a live socket is refused; bad names are refused", async (t) => {
  const { sw } = await withSwitch(t);
  await assert.rejects(
    SwitchServer.open({ name: "lab", path: sw.path }),
    /another process is listening there/,
  );
  assert.throws(() => switchSocketPath("/tmp", "../x"), /must be letters, digits/);
  assert.throws(() => switchSocketPath(`/${"d".repeat(100)}`, "x"), /longer than a Unix socket path/);
});
