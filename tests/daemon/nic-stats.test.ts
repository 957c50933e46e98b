/**
 * Per-NIC counters in the daemon: a VM on a daemon network sends frames (ARP for an absent neighbour) and
 * receives frames a socket client on the same switch sends; `GET /v1/vms/NAME/stats` and `/metrics` show
 * them for that NIC (frames and bytes each way, drops).
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { switchDirOf } from "../../src/base/node/state-dir.js";
import type { NetBackend, NetCounters } from "../../src/io/net-backend.js";
import { openSwitchClient } from "../../src/net/node/switch-port.js";
import { BOOT_TIMEOUT_MS, ConsoleClient, missingImages, pollUntil, TestDaemon } from "./harness.js";

const skip = missingImages();
const daemon = new TestDaemon();
let shell: ConsoleClient | null = null;
let client: NetBackend | null = null;

type NicStats = NetCounters;

/** Poll the stats (sampled by the VM process about once a second) until `ok` holds; hang guard only. */
async function statsUntil(ok: (n: NicStats) => boolean): Promise<NicStats> {
  let last: NicStats[] = [];
  return pollUntil(
    async () => {
      last = ((await daemon.call("GET", "/v1/vms/n1/stats")).body as { nics: NicStats[] }).nics;
      return last.length === 1 && ok(last[0]) ? last[0] : undefined;
    },
    () => `stats never matched: ${JSON.stringify(last)}`,
  );
}

before(async () => {
  if (skip) return;
  await daemon.start([]);
});
after(async () => {
  shell?.close();
  client?.close();
  await daemon.dispose();
});

test("a NIC's frames and bytes each way and its drops show in stats and /metrics", {
  timeout: 2 * BOOT_TIMEOUT_MS,
  skip: skip ?? false,
}, async () => {
  const def = {
    name: "n1",
    memBytes: 128 * 1024 * 1024,
    nics: [{ network: "statsnet", mac: "52:54:00:5a:20:01" }],
  };
  assert.equal((await daemon.call("POST", "/v1/vms", def)).status, 201);
  assert.equal((await daemon.call("POST", "/v1/vms/n1/start")).status, 200);
  shell = await ConsoleClient.open(daemon.socketPath, "n1");
  await shell.waitForShell();
  const idle = await statsUntil(() => true);

  // Three ARP requests from the guest (nobody answers 10.0.60.2).
  await shell.run(
    "ip addr add 10.0.60.1/24 dev eth0 && ip link set eth0 up; ping -c 3 -W 1 10.0.60.2; echo sent",
  );
  const tx = await statsUntil((n) => n.txFrames >= idle.txFrames + 3);
  assert.ok(tx.txBytes >= idle.txBytes + 3 * 42, "an ARP request is at least 42 bytes");

  // Ten broadcast frames of 100 bytes to the guest from a socket client on the same switch.
  client = await openSwitchClient("statsnet", switchDirOf(daemon.stateDir));
  const frame = new Uint8Array(100).fill(0xff, 0, 6);
  frame.set([0x52, 0x54, 0x00, 0x5a, 0x20, 0x02], 6);
  frame.set([0x88, 0xb5], 12); // IEEE 802 local experimental EtherType: the guest's stack ignores it
  for (let i = 0; i < 10; i++) client.send(frame);
  const rx = await statsUntil((n) => n.rxFrames >= tx.rxFrames + 10);
  assert.ok(rx.rxBytes >= tx.rxBytes + 1000);
  assert.equal(typeof rx.rxDropped, "number");
  assert.equal(typeof rx.txDropped, "number");

  const metrics = (await daemon.call("GET", "/metrics")).text;
  const value = (name: string) => {
    const m = new RegExp(`^${name}\\{vm="n1",nic="0"\\} (\\d+)$`, "m").exec(metrics);
    assert.ok(m, `${name} for nic 0 in /metrics`);
    return Number(m[1]);
  };
  assert.ok(value("tvisor_nic_rx_frames_total") >= rx.rxFrames);
  assert.ok(value("tvisor_nic_tx_frames_total") >= rx.txFrames);
  value("tvisor_nic_rx_dropped_total");
  value("tvisor_nic_tx_dropped_total");
});
