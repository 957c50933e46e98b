/**
 * Interop: a tvisor guest and a QEMU guest share wires made by tvisor's socket backends and ping each
 * other over each: a Unix stream (QEMU 7.2 `-netdev stream`), UDP unicast (`-netdev dgram`) and UDP
 * multicast (`-netdev socket,mcast=`). One boot of each guest serves every case.
 */
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import type { NetBackend } from "../../src/io/net-backend.js";
import { DgramNetBackend } from "../../src/net/node/dgram-socket.js";
import { StreamNetBackend } from "../../src/net/node/stream-socket.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "../boot/guest-session.js";
import { missingQemu, type ProcessSession, QemuSession } from "../boot/qemu-session.js";

const LOSS_FREE = /(\d+) packets transmitted, \1 packets received, 0% packet loss/;

/** One wire: the MACs on each side and the subnet (10.0.N.0/24; tvisor .1, QEMU .2). */
interface Wire {
  name: string;
  net: number;
  ours: string;
  theirs: string;
}
const STREAM: Wire = { name: "unix stream", net: 31, ours: "52:54:00:31:00:01", theirs: "52:54:00:31:00:02" };
const DGRAM: Wire = { name: "UDP unicast", net: 32, ours: "52:54:00:32:00:01", theirs: "52:54:00:32:00:02" };
const MCAST: Wire = {
  name: "UDP multicast",
  net: 33,
  ours: "52:54:00:33:00:01",
  theirs: "52:54:00:33:00:02",
};

/** A free UDP port on 127.0.0.1 for QEMU's side (QEMU must be told its port; ours reads its own back). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

interface Shell {
  run(cmd: string): Promise<string>;
}

/** Address the interface with `mac` (names depend on probe order, so find it by MAC) and bring it up. */
async function configure(g: Shell, w: Wire, host: 1 | 2): Promise<void> {
  const mac = host === 1 ? w.ours : w.theirs;
  const ifc = `$(for i in /sys/class/net/*; do [ "$(cat $i/address)" = ${mac} ] && basename $i; done)`;
  const out = await g.run(
    `d=${ifc}; ip addr add 10.0.${w.net}.${host}/24 dev $d && ip link set $d up && ` +
      `until [ "$(cat /sys/class/net/$d/operstate)" = up ]; do sleep 0.1; done; echo ok`,
  );
  assert.equal(out.trim(), "ok", `configure ${w.name} on ${mac}`);
}

test("a tvisor guest and a QEMU guest ping each other over stream, dgram and multicast wires", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages() ?? missingQemu();
  if (why) return t.skip(why);
  const dir = mkdtempSync(join(tmpdir(), "tvisor-qemu-net-"));
  const backends: NetBackend[] = [];
  let ours: GuestSession | null = null;
  let theirs: ProcessSession | null = null;
  try {
    const path = join(dir, "wire.sock");
    const stream = await StreamNetBackend.open({ mode: "listen", address: { type: "unix", path } });
    backends.push(stream);
    const qemuUdp = await freeUdpPort();
    const dgram = await DgramNetBackend.open({
      kind: "unicast",
      local: { host: "127.0.0.1", port: 0 },
      remote: { host: "127.0.0.1", port: qemuUdp },
    });
    backends.push(dgram);
    const group = "239.255.77.2";
    let mcast: DgramNetBackend | null = null;
    let noMcast = "";
    try {
      mcast = await DgramNetBackend.open({ kind: "mcast", group, port: await freeUdpPort() });
      backends.push(mcast);
    } catch (e) {
      noMcast = `multicast unavailable here: ${(e as Error).message}`;
    }

    const nics = [
      { backend: stream as NetBackend, mac: STREAM.ours },
      { backend: dgram as NetBackend, mac: DGRAM.ours },
    ];
    const qemuArgs = [
      "-netdev",
      `stream,id=s0,server=off,addr.type=unix,addr.path=${path}`,
      "-device",
      `virtio-net-device,netdev=s0,mac=${STREAM.theirs}`,
      "-netdev",
      `dgram,id=d0,local.type=inet,local.host=127.0.0.1,local.port=${qemuUdp},` +
        `remote.type=inet,remote.host=127.0.0.1,remote.port=${dgram.boundAddress.port}`,
      "-device",
      `virtio-net-device,netdev=d0,mac=${DGRAM.theirs}`,
    ];
    if (mcast) {
      nics.push({ backend: mcast, mac: MCAST.ours });
      qemuArgs.push("-netdev", `socket,id=m0,mcast=${group}:${mcast.boundAddress.port}`);
      qemuArgs.push("-device", `virtio-net-device,netdev=m0,mac=${MCAST.theirs}`);
    }
    ours = new GuestSession({ nics });
    const [q] = await Promise.all([QemuSession.start(dir, qemuArgs), ours.waitForShell()]);
    theirs = q;
    const a = ours;
    const b = q;
    assert.equal(stream.carrier, true, "QEMU connected to the stream listener");

    for (const w of [STREAM, DGRAM, MCAST]) {
      await t.test(`over ${w.name}`, async (st) => {
        if (w === MCAST && !mcast) return st.skip(noMcast);
        await configure(a, w, 1);
        await configure(b, w, 2);
        assert.match(await a.run(`ping -c 3 -i 0.2 10.0.${w.net}.2`), LOSS_FREE, "tvisor → QEMU");
        assert.match(await b.run(`ping -c 3 -i 0.2 10.0.${w.net}.1`), LOSS_FREE, "QEMU → tvisor");
      });
    }
    assert.equal(stream.counters.malformed, 0);
    assert.ok(stream.counters.rxFrames >= 6 && dgram.counters.rxFrames >= 6, "frames crossed both wires");
  } finally {
    await Promise.all([ours?.close(), theirs?.close()]);
    for (const b of backends) b.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
