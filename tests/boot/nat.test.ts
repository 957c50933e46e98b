/**
 * User-mode NAT (`--nic user`) on passt, with real processes: the bundled guest gets its address by DHCP,
 * fetches a page from an HTTP server on the host's loopback, serves a page to a host client through a
 * port forward, resolves a name through the DNS server its DHCP gave it (a test DNS server on the host's
 * 127.0.0.1:53, reached through the gateway), and rides out passt being killed.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { test } from "node:test";
import { USER_NET } from "../../src/net/node/passt.js";
import { DnsResponder } from "./dns-responder.js";
import { BOOT_TEST_TIMEOUT_MS, GuestSession, missingImages } from "./guest-session.js";
import { freePort, gone, httpGet, passtChildren, passtMissing } from "./passt-helpers.js";

const PAGE = "hello from the host\n";
/** The name the test's DNS server answers, with the address the guest reaches the host at. */
const HOST_NAME = "host.tvisor.test";

test("user-mode NAT on passt: DHCP, HTTP to the host, a port forward, passt restarted", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages() ?? passtMissing();
  if (why) return t.skip(why);
  const http: Server = createServer((_req, res) => res.end(PAGE));
  await new Promise<void>((r) => http.listen(0, "127.0.0.1", r));
  const httpPort = (http.address() as { port: number }).port;
  const fwdPort = await freePort();
  // passt relays DNS to port 53 only, so the test's resolver must listen there: on 127.0.0.1, which the
  // guest reaches through the gateway (see net/node/passt.ts). Needs root (or CAP_NET_BIND_SERVICE).
  let dns: DnsResponder | null = null;
  let dnsWhy = "";
  try {
    dns = await DnsResponder.listen("127.0.0.1", 53, { [HOST_NAME]: USER_NET.gateway });
  } catch (e) {
    dnsWhy = `cannot serve DNS on 127.0.0.1:53 (${(e as NodeJS.ErrnoException).code ?? e}): needs root or a free port 53`;
  }
  const before = new Set(passtChildren(process.pid));
  const g = new GuestSession({
    nics: [
      {
        spec: {
          kind: "user",
          hostfwd: [{ proto: "tcp", hostAddr: "127.0.0.1", hostPort: fwdPort, guestPort: 8080 }],
          ...(dns ? { hostDns: ["127.0.0.1"] } : {}),
        },
      },
    ],
  });
  let passtPids: number[] = [];
  try {
    await g.waitForShell();
    passtPids = passtChildren(process.pid).filter((p) => !before.has(p));
    assert.equal(passtPids.length, 1, "one passt for the one user NIC");

    await t.test("DHCP gives the guest its address, gateway and DNS server", async () => {
      await g.run("udhcpc -i eth0 -q -n -t 10 >/dev/null 2>&1; echo done");
      assert.match(
        await g.run("ip -4 addr show dev eth0"),
        new RegExp(`inet ${USER_NET.guest.replace(/\./g, "\\.")}/24`),
      );
      assert.match(
        await g.run("ip route"),
        new RegExp(`default via ${USER_NET.gateway.replace(/\./g, "\\.")}`),
      );
      assert.match(await g.run("cat /etc/resolv.conf"), /nameserver \S+/);
    });

    await t.test("the guest fetches a page from an HTTP server on the host's loopback", async () => {
      assert.equal(await g.run(`wget -q -O - http://${USER_NET.gateway}:${httpPort}/`), PAGE.trim());
    });

    await t.test("the guest resolves a name through the DNS server its DHCP gave it", async (tt) => {
      if (!dns) return tt.skip(dnsWhy);
      // The resolver on the host's 127.0.0.1 is handed out as the gateway address.
      assert.match(
        await g.run("cat /etc/resolv.conf"),
        new RegExp(`^nameserver ${USER_NET.gateway.replace(/\./g, "\\.")}\\r?$`, "m"),
      );
      assert.match(
        await g.run(`nslookup ${HOST_NAME}`),
        new RegExp(`Address:\\s+${USER_NET.gateway.replace(/\./g, "\\.")}\\r?$`, "m"),
      );
      assert.ok(dns.queries > 0, "the query reached the host's DNS server");
      // And used: a page fetched by name.
      assert.equal(await g.run(`wget -q -O - http://${HOST_NAME}:${httpPort}/`), PAGE.trim());
    });

    await t.test("hostfwd: a host client reaches an HTTP server in the guest", async () => {
      await g.run("mkdir -p /www && echo guest-page > /www/index.html && httpd -p 8080 -h /www && echo up");
      const body = await httpGet(`http://127.0.0.1:${fwdPort}/`);
      assert.equal(body, "guest-page\n");
    });

    await t.test(
      "passt killed: the guest sees carrier down, then a restarted passt serves again",
      async () => {
        process.kill(passtPids[0], "SIGKILL");
        await gone(passtPids[0]);
        // The restart comes after a back-off; the carrier returns with it.
        assert.equal(
          (
            await g.run('until [ "$(cat /sys/class/net/eth0/carrier)" = 1 ]; do sleep 0.2; done; echo up')
          ).trim(),
          "up",
        );
        const now = passtChildren(process.pid).filter((p) => !before.has(p) && p !== passtPids[0]);
        assert.equal(now.length, 1, "a new passt");
        passtPids = now;
        assert.equal(await g.run(`wget -q -O - http://${USER_NET.gateway}:${httpPort}/`), PAGE.trim());
      },
    );
  } finally {
    await g.close();
    // No passt outlives its VM.
    for (const p of passtPids) await gone(p);
    http.close();
    dns?.close();
  }
});
