/** Boot test: two guests in one process on one NetHub talk over virtio-net (ARP, ICMP, TCP), across reboot and restore. */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { UserError } from "../../src/base/errors.js";
import type { SavedState } from "../../src/base/state.js";
import { NetHub } from "../../src/net/hub.js";
import { parsePcap } from "../../src/net/node/pcap-reader.js";
import { defaultMac, formatMac } from "../../src/vmm/mac.js";
import { createNodeHost } from "../../src/vmm/node/node-host.js";
import { VirtualMachine } from "../../src/vmm/vm.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, KERNEL, missingImages, TestConsole } from "./guest-session.js";

const IP_A = "10.0.2.1";
const IP_B = "10.0.2.2";
const MAC_B = "52:54:00:ab:cd:02";
const LOSS_FREE = /(\d+) packets transmitted, \1 packets received, 0% packet loss/;

/** Static address and link up, then the guest's own view of the NIC. */
async function configure(g: GuestSession, ip: string): Promise<void> {
  assert.equal(await g.run(`ip addr add ${ip}/24 dev eth0 && ip link set eth0 up && echo ok`), "ok");
  // operstate follows carrier through the kernel's linkwatch work, at some point after `ip link set up`.
  const settled = 'until [ "$(cat /sys/class/net/eth0/operstate)" = up ]; do sleep 0.1; done';
  assert.equal(
    (await g.run(`${settled}; cat /sys/class/net/eth0/carrier /sys/class/net/eth0/operstate`)).trim(),
    "1\nup",
  );
}

/** Start a one-shot TCP receiver on `port` writing to `file`; returns once it is listening. */
async function listen(g: GuestSession, port: number, file: string): Promise<void> {
  const out = await g.run(
    `nc -l -p ${port} > ${file} & while ! netstat -ltn 2>/dev/null | grep -q ':${port} '; do usleep 20000; done; echo listening`,
  );
  assert.equal(out.trim(), "listening");
}

/** md5 of a guest file (first field of md5sum). */
async function md5(g: GuestSession, file: string): Promise<string> {
  const m = /^([0-9a-f]{32}) /.exec((await g.run(`md5sum ${file}`)).trim());
  assert.ok(m, `md5sum ${file}`);
  return m[1];
}

/** Each transfer uses a new port: the previous connection may still hold its port in TIME_WAIT. */
let nextPort = 5000;

/** Send `kib` KiB of random data from `from` to `to` over TCP and check both sides' md5 agree. */
async function transfer(from: GuestSession, to: GuestSession, toIp: string, kib: number): Promise<void> {
  const port = nextPort++;
  await listen(to, port, "/tmp/recv");
  await from.run(`head -c ${kib * 1024} /dev/urandom > /tmp/data`);
  const sent = await md5(from, "/tmp/data");
  assert.equal((await from.run(`nc ${toIp} ${port} < /tmp/data; echo rc=$?`)).trim(), "rc=0");
  // The receiver exits when the sender's FIN arrives; `wait` makes sure the file is complete.
  await to.run("wait");
  assert.equal((await to.run("wc -c < /tmp/recv")).trim(), String(kib * 1024));
  assert.equal(await md5(to, "/tmp/recv"), sent);
}

/** A guest command that waits until eth0's carrier reads `v`, then prints it (the hang guard bounds it). */
function carrierIs(v: 0 | 1): string {
  return `until [ "$(cat /sys/class/net/eth0/carrier)" = ${v} ]; do sleep 0.1; done; cat /sys/class/net/eth0/carrier`;
}
test("more virtio devices than the board's 8 slots is a UserError naming the count", () => {
  const hub = new NetHub();
  const config = {
    kernel: KERNEL,
    bios: "builtin",
    memBytes: 128 << 20,
    cpus: 1,
    disks: Array.from({ length: 6 }, (_, i) => ({ path: `d${i}.img`, readOnly: true })),
    rng: true,
    // The count is spelled out device by device; the balloon (on by default) is left out of this one.
    balloon: false,
    nics: [{}, {}],
  };
  const nics = { nics: [hub.port(), hub.port()] };
  const host = createNodeHost(new TestConsole(), () => {});
  assert.throws(
    () => new VirtualMachine(config, host, nics),
    (e: unknown) =>
      e instanceof UserError && /6 disk\(s\) \+ 2 NIC\(s\) \+ rng = 9; the board has 8 slots/.test(e.message),
  );
  config.rng = false;
  assert.doesNotThrow(() => new VirtualMachine(config, host, nics));
});

test("two guests on a NetHub: MAC, ping, TCP, jumbo frames, reboot and restore", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const hub = new NetHub();
  const portA = hub.port();
  const portB = hub.port();
  // Both run loops interleave on this process's event loop; frames cross synchronously in the hub.
  const a = new GuestSession({ vmIndex: 0, nics: [{ backend: portA }] });
  // B's NIC is captured (`pcap=`): the file must show the ping both ways.
  const capDir = mkdtempSync(join(tmpdir(), "tvisor-net-"));
  t.after(() => rmSync(capDir, { recursive: true, force: true }));
  const capture = join(capDir, "b.pcap");
  const b = new GuestSession({ vmIndex: 1, nics: [{ backend: portB, mac: MAC_B, pcap: capture }] });
  const restored: GuestSession[] = [];
  try {
    await Promise.all([a.waitForShell(), b.waitForShell()]);

    await t.test("the guest sees the configured MACs (derived default and explicit)", async () => {
      assert.equal((await a.run("cat /sys/class/net/eth0/address")).trim(), formatMac(defaultMac(0, 0)));
      assert.equal((await b.run("cat /sys/class/net/eth0/address")).trim(), MAC_B);
      await configure(a, IP_A);
      await configure(b, IP_B);
    });

    await t.test("A pings B with no loss", async () => {
      assert.match(await a.run(`ping -c 3 ${IP_B}`), LOSS_FREE);
      assert.match(await a.run("ip neigh show dev eth0"), new RegExp(`${IP_B} lladdr ${MAC_B}`));
    });

    await t.test("B's capture file holds the pings both ways as Ethernet frames", () => {
      const frames = parsePcap(readFileSync(capture)).records.map((r) => r.data);
      // IPv4 (ethertype 0x0800), protocol ICMP (1), type 8 = echo request, 0 = echo reply (RFC 792).
      const icmp = (f: Uint8Array, type: number, src: string, dst: string) =>
        f[12] === 0x08 &&
        f[13] === 0x00 &&
        f[23] === 1 &&
        f[34] === type &&
        f.slice(26, 30).join(".") === src &&
        f.slice(30, 34).join(".") === dst;
      assert.ok(frames.filter((f) => icmp(f, 8, IP_A, IP_B)).length >= 3, "echo requests A -> B");
      assert.ok(frames.filter((f) => icmp(f, 0, IP_B, IP_A)).length >= 3, "echo replies B -> A");
    });

    await t.test("a 512 KiB TCP transfer arrives intact", async () => {
      await transfer(a, b, IP_B, 512);
    });

    await t.test(
      "the guest's driver negotiated the offloads (CSUM, GUEST_CSUM, HOST_TSO4/6, MRG_RXBUF)",
      async () => {
        // virtio's sysfs `features`: one character per feature bit, bit 0 first. Whether Linux then builds
        // super-frames depends on its TCP timing, so the transfers check the data, not the frame count.
        const bits = (await a.run("cat /sys/class/net/eth0/device/features")).trim();
        const on = (bit: number) => bits[bit] === "1";
        assert.deepEqual(
          {
            csum: on(0),
            guestCsum: on(1),
            hostTso4: on(11),
            hostTso6: on(12),
            mrgRxbuf: on(15),
            guestTso4: on(7),
          },
          { csum: true, guestCsum: true, hostTso4: true, hostTso6: true, mrgRxbuf: true, guestTso4: false },
        );
      },
    );

    await t.test("MTU 9000: frames span several receive buffers (VIRTIO_NET_F_MRG_RXBUF)", async () => {
      for (const g of [a, b]) assert.equal(await g.run("ip link set eth0 mtu 9000 && echo ok"), "ok");
      // 8000-byte ICMP payloads cross unfragmented only if 8042-byte frames reach the other guest.
      assert.match(await a.run(`ping -c 2 -s 8000 ${IP_B}`), LOSS_FREE);
      await transfer(b, a, IP_A, 256);
      for (const g of [a, b]) await g.run("ip link set eth0 mtu 1500");
    });

    await t.test(
      "unplugging B's link: the guest sees carrier 0 and no frame passes; replugging restores it",
      async () => {
        b.vm.setLinkUp(0, false);
        // The config-change interrupt runs the driver's work item at some later point: poll until it has.
        assert.equal((await b.run(carrierIs(0))).trim(), "0");
        assert.match(await a.run(`ping -c 2 -W 1 ${IP_B}`), /2 packets transmitted, 0 packets received/);
        b.vm.setLinkUp(0, true);
        assert.equal((await b.run(carrierIs(1))).trim(), "1");
        assert.match(await a.run(`ping -c 2 ${IP_B}`), LOSS_FREE);
        assert.throws(() => b.vm.setLinkUp(1, true), /no NIC 1: this VM has 1/);
      },
    );

    await t.test("after a guest reboot the NIC is on the same hub port", async () => {
      const from = b.console.output.length;
      b.type("reboot\n");
      await b.waitForShell(from);
      assert.equal(b.vm.boots, 2);
      assert.equal((await b.run("cat /sys/class/net/eth0/address")).trim(), MAC_B);
      await configure(b, IP_B);
      assert.match(await a.run(`ping -c 3 ${IP_B}`), LOSS_FREE);
    });

    await t.test("save/restore: the restored guest keeps its MAC, address and traffic", async () => {
      a.vm.stop();
      assert.deepEqual(await a.exit, { kind: "stopped" });
      const state = structuredClone(a.vm.save());
      const devices = (state.virtio as SavedState[]).map((v) => (v.device as SavedState).kind);
      assert.deepEqual(
        devices,
        ["virtio-net", "virtio-rng", "virtio-balloon"],
        "slot order: NICs, then rng, then the balloon",
      );
      // The embedder owns the port: the restored VM takes it over, and closing the old VM after
      // that must not take it back.
      const c = new GuestSession({ vmIndex: 0, nics: [{ backend: portA }], deferStart: true });
      restored.push(c);
      await c.vm.restore(state);
      await a.close();
      c.start();
      c.type("\n");
      assert.equal((await c.run("cat /sys/class/net/eth0/address")).trim(), formatMac(defaultMac(0, 0)));
      assert.match(await c.run(`ping -c 3 ${IP_B}`), LOSS_FREE);
      await transfer(b, c, IP_A, 64);
    });
    assert.equal(hub.dropped, 0, "every frame had a receiver");
  } finally {
    await Promise.all([a, b, ...restored].map((g) => g.close()));
    portA.close();
    portB.close();
  }
});
