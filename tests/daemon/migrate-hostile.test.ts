/**
 * The destination's end of live migration against a hostile or broken source, with no guest booted: no
 * token is a 401; a first message that is not HELLO, a HELLO with a bad definition or for another machine,
 * a corrupted RAM
 * message after HELLO, and a source that vanishes mid-stream all end with an error and leave the
 * destination daemon with no VM (the `incoming` definition it made is removed again). With copied storage:
 * a disk name that is taken on the destination is refused and the file there left as it was; a DISK
 * range beyond its disk, or a source that vanishes mid-copy, removes the images the destination made.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import WebSocket from "ws";
import {
  encodeDisk,
  encodeMessage,
  encodeRam,
  MIGRATION_MAGIC,
  MSG_HELLO,
  MSG_RAM,
} from "../../src/vmm/migration/protocol.js";
import { BOOT_TIMEOUT_MS, missingImages, pollUntil, TestDaemon } from "./harness.js";

const d = new TestDaemon();
after(() => d.dispose());

function hello(overrides: Record<string, unknown> = {}): Uint8Array {
  const h = {
    magic: MIGRATION_MAGIC,
    version: 1,
    tvisor: "test",
    arch: "riscv64",
    machine: "riscv-virt",
    name: "hostile",
    definition: { name: "hostile", memBytes: 64 << 20 },
    ramBytes: 64 << 20,
    components: ["board"],
    disks: [],
    ...overrides,
  };
  return encodeMessage(MSG_HELLO, new TextEncoder().encode(JSON.stringify(h)));
}

/** Open the incoming WebSocket; resolves with it, or with the HTTP status it was refused with. */
function open(token: string | null): Promise<WebSocket | number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${d.tcpPort}/v1/migrations/incoming`, {
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
    ws.once("error", reject);
  });
}

/** Collect text replies until the socket closes. */
function replies(ws: WebSocket): { texts: string[]; closed: Promise<void>; next(): Promise<string> } {
  const texts: string[] = [];
  const waiting: Array<(s: string) => void> = [];
  ws.on("message", (m, bin) => {
    if (bin) return;
    const s = m.toString();
    const w = waiting.shift();
    if (w) w(s);
    else texts.push(s);
  });
  const closed = new Promise<void>((r) => ws.once("close", () => r()));
  return {
    texts,
    closed,
    next: () => {
      const s = texts.shift();
      return s !== undefined ? Promise.resolve(s) : new Promise((r) => waiting.push(r));
    },
  };
}

async function noVms(): Promise<void> {
  let vms: unknown[] = [];
  await pollUntil(
    async () => {
      vms = ((await d.call("GET", "/v1/vms")).body as { vms: unknown[] }).vms;
      return vms.length === 0 ? true : undefined;
    },
    () => `the destination kept ${JSON.stringify(vms)}`,
    100,
  );
}

test("hostile and broken migration streams leave the destination with nothing", {
  timeout: 2 * BOOT_TIMEOUT_MS,
  skip: missingImages() ?? false,
}, async () => {
  await d.start();
  const token = readFileSync(join(d.stateDir, "token"), "utf8").trim();
  assert.equal(await open(null), 401);
  assert.equal(await open("0".repeat(64)), 401);

  // Not HELLO first.
  let ws = (await open(token)) as WebSocket;
  let r = replies(ws);
  ws.send(encodeMessage(MSG_RAM, new Uint8Array(8)), { binary: true });
  assert.match(await r.next(), /first message must be hello/);
  await r.closed;
  await noVms();

  // A definition the API would refuse.
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(hello({ definition: { name: "hostile", memBytes: -1 } }), { binary: true });
  assert.match(await r.next(), /hello: definition/);
  await r.closed;
  await noVms();

  // A HELLO for another machine (its components): the VM process refuses it, naming this machine's.
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(hello(), { binary: true });
  // (`accepted` comes first: the machine is built, and its components checked, after HELLO is taken.)
  assert.equal(JSON.parse(await r.next()).t, "accepted");
  const mismatch = await r.next();
  const m = /do not match this machine \(([a-z0-9,]+)\)/.exec(mismatch);
  assert.ok(m, mismatch);
  const components = m[1].split(",");
  await r.closed;
  await noVms();

  // A good HELLO, then a RAM message with one bit flipped: the VM process refuses it, the VM goes.
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(hello({ components }), { binary: true });
  assert.equal(JSON.parse(await r.next()).t, "accepted");
  const vms = ((await d.call("GET", "/v1/vms")).body as { vms: Array<{ state: string }> }).vms;
  assert.equal(vms[0]?.state, "incoming");
  const ram = new Uint8Array(4 * 4096).fill(7);
  const bad = encodeRam(ram, [1], [false]);
  bad[bad.length - 1] ^= 0x10;
  ws.send(bad, { binary: true });
  assert.match(await r.next(), /checksum mismatch/);
  await r.closed;
  await noVms();

  // A good HELLO and a good RAM message, then the source vanishes.
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(hello({ components }), { binary: true });
  assert.equal(JSON.parse(await r.next()).t, "accepted");
  ws.send(encodeRam(ram, [1, 2], [false, true]), { binary: true });
  ws.terminate();
  await noVms();
  assert.match(d.log, /incoming migration failed/);

  // Copied storage: the destination's image name is taken by a file it did not make.
  const dir = join(d.stateDir, "disks", "hostile");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "taken.raw"), "someone else's file");
  // The disk is one more virtio device on the board.
  const withDisk = [...components, `virtio${components.filter((c) => c.startsWith("virtio")).length}`];
  const copy = (disk: string) =>
    hello({
      components: withDisk,
      definition: { name: "hostile", memBytes: 64 << 20, disks: [{ path: `/src/${disk}`, format: "raw" }] },
      disks: [{ path: `/src/${disk}`, format: "raw", virtualSize: 1 << 20 }],
      copyStorage: true,
    });
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(copy("taken.raw"), { binary: true });
  assert.match(
    await r.next(),
    /taken\.raw exists on the destination, which never overwrites a file it did not create/,
  );
  await r.closed;
  await noVms();
  assert.equal(readFileSync(join(dir, "taken.raw"), "utf8"), "someone else's file");

  // A range beyond the disk: refused, and the image made for it goes with the VM.
  const made = join(dir, "ok.raw");
  const gone = () =>
    pollUntil(
      async () => (existsSync(made) ? undefined : true),
      () => `the destination kept ${made}`,
      100,
    );
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(copy("ok.raw"), { binary: true });
  assert.equal(JSON.parse(await r.next()).t, "accepted");
  assert.ok(existsSync(made), "the destination made the disk's image");
  ws.send(encodeDisk(0, (1 << 20) - 512, null, 1024), { binary: true });
  assert.match(await r.next(), /beyond disk 0/);
  await r.closed;
  await noVms();
  await gone();

  // Some of the disk arrives, then the source vanishes.
  ws = (await open(token)) as WebSocket;
  r = replies(ws);
  ws.send(copy("ok.raw"), { binary: true });
  assert.equal(JSON.parse(await r.next()).t, "accepted");
  ws.send(encodeDisk(0, 0, new Uint8Array(4096).fill(9), 4096), { binary: true });
  ws.terminate();
  await noVms();
  await gone();
  assert.ok(existsSync(join(dir, "taken.raw")), "files the destination did not make stay");
});
