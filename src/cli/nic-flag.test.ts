/** Tests for `--nic`: QEMU's -nic/-netdev syntax into NIC specifications, and its one-line errors. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { UserError } from "../base/errors.js";
import { validateVmSpec } from "../vmm/vm-spec.js";
import { parseNatOptions, parseNicFlag, splitOptions } from "./nic-flag.js";

test("user with hostfwd rules, mac and pcap", () => {
  assert.deepEqual(
    parseNicFlag(
      "user,hostfwd=tcp:127.0.0.1:2222-:22,hostfwd=udp::5353-10.0.2.15:53,mac=52:54:00:aa:bb:cc,pcap=a.pcap",
    ),
    {
      mac: "52:54:00:aa:bb:cc",
      pcap: "a.pcap",
      backend: {
        kind: "user",
        hostfwd: [
          { proto: "tcp", hostAddr: "127.0.0.1", hostPort: 2222, guestPort: 22 },
          { proto: "udp", hostPort: 5353, guestAddr: "10.0.2.15", guestPort: 53 },
        ],
      },
    },
  );
  // QEMU: an empty protocol is tcp; IPv6 literals in brackets.
  assert.deepEqual(parseNicFlag("user,hostfwd=:[::1]:8080-:80").backend, {
    kind: "user",
    hostfwd: [{ proto: "tcp", hostAddr: "::1", hostPort: 8080, guestPort: 80 }],
  });
});

test("user with hostdns resolvers, checked by the spec validator", () => {
  assert.deepEqual(parseNicFlag("user,hostdns=127.0.0.1,hostdns=192.0.2.53").backend, {
    kind: "user",
    hostfwd: [],
    hostDns: ["127.0.0.1", "192.0.2.53"],
  });
  assert.throws(() => parseNicFlag("tap,ifname=t,hostdns=1.1.1.1"), /hostdns is an option of user/);
  assert.throws(
    () => validateVmSpec({ kernel: "k", nics: [parseNicFlag("user,hostdns=resolver.example")] }),
    /hostDns\[0\].*IPv4 address/,
  );
});

test("socket forms become stream and dgram backends", () => {
  assert.deepEqual(parseNicFlag("socket,listen=:1234").backend, {
    kind: "stream",
    server: true,
    addr: { type: "inet", host: "0.0.0.0", port: 1234 },
  });
  assert.deepEqual(parseNicFlag("socket,connect=127.0.0.1:1234").backend, {
    kind: "stream",
    server: false,
    addr: { type: "inet", host: "127.0.0.1", port: 1234 },
  });
  assert.deepEqual(parseNicFlag("socket,mcast=230.0.0.1:1234,localaddr=127.0.0.1").backend, {
    kind: "dgram",
    remote: { type: "inet", host: "230.0.0.1", port: 1234 },
    local: { type: "inet", host: "127.0.0.1", port: 0 },
  });
  assert.deepEqual(parseNicFlag("socket,udp=127.0.0.1:5001,localaddr=127.0.0.1:5000").backend, {
    kind: "dgram",
    remote: { type: "inet", host: "127.0.0.1", port: 5001 },
    local: { type: "inet", host: "127.0.0.1", port: 5000 },
  });
});

test("QEMU 7.2 stream and dgram with dotted addresses; ',,' is a comma", () => {
  assert.deepEqual(parseNicFlag("stream,server=on,addr.type=unix,addr.path=/tmp/a,,b").backend, {
    kind: "stream",
    server: true,
    addr: { type: "unix", path: "/tmp/a,b" },
  });
  assert.deepEqual(parseNicFlag("stream,addr.type=inet,addr.host=localhost,addr.port=5555").backend, {
    kind: "stream",
    server: false,
    addr: { type: "inet", host: "localhost", port: 5555 },
  });
  assert.deepEqual(
    parseNicFlag(
      "dgram,local.type=inet,local.host=127.0.0.1,local.port=1,remote.type=inet,remote.host=127.0.0.1,remote.port=2",
    ).backend,
    {
      kind: "dgram",
      local: { type: "inet", host: "127.0.0.1", port: 1 },
      remote: { type: "inet", host: "127.0.0.1", port: 2 },
    },
  );
  assert.deepEqual(splitOptions("a,,b,c"), ["a,b", "c"]);
});

test("switch, tap and daemon networks", () => {
  assert.deepEqual(parseNicFlag("switch=lab"), { backend: { kind: "switch", name: "lab" } });
  assert.deepEqual(parseNicFlag("switch,name=lab,mac=02:00:00:00:00:01"), {
    mac: "02:00:00:00:00:01",
    backend: { kind: "switch", name: "lab" },
  });
  assert.deepEqual(parseNicFlag("tap,ifname=tap0").backend, { kind: "tap", ifname: "tap0" });
  assert.deepEqual(parseNicFlag("lan"), { backend: { kind: "hub", network: "lan" } });
});

test("bad syntax is one --nic error naming the problem", () => {
  const bad: [string, RegExp][] = [
    ["user,hostfwd=tcp:2222:22", /hostfwd "tcp:2222:22" is not/],
    ["user,hostfwd=tcp::x-:22", /hostfwd/],
    ["user,bogus=1", /unknown option "bogus" for user/],
    ["socket", /exactly one of listen/],
    ["socket,listen=:1,connect=a:2", /exactly one of listen/],
    ["socket,connect=:22", /needs a host/],
    ["socket,udp=a:1", /needs localaddr/],
    ["stream,server=maybe,addr.type=unix,addr.path=x", /server must be on or off/],
    ["stream,addr.type=vsock,addr.port=1", /addr.type must be inet or unix/],
    ["stream,addr.type=inet,addr.host=x", /addr.port is required/],
    ["dgram", /needs local/],
    ["switch", /needs a name/],
    ["tap", /needs ifname/],
    ["tap,ifname=t,hostfwd=tcp::1-:2", /hostfwd is an option of user/],
    ["user,mac=1,mac=2", /given twice/],
    ["/etc/passwd", /is not a backend/],
  ];
  for (const [text, re] of bad)
    assert.throws(
      () => parseNicFlag(text),
      (e: unknown) => e instanceof UserError && e.message.startsWith("--nic: ") && re.test(e.message),
      text,
    );
});

test("ranges are checked by the spec validator (ports, names, interface names)", () => {
  const spec = (nic: string) => validateVmSpec({ kernel: "k", nics: [parseNicFlag(nic)] });
  assert.throws(() => spec("user,hostfwd=tcp::0-:22"), /hostPort: must be 1..65535/);
  assert.throws(() => spec("user,hostfwd=tcp::99999-:22"), /hostPort: must be 1..65535/);
  assert.throws(() => spec("user,hostfwd=tcp::22-:1,hostfwd=tcp::22-:2"), /forwarded twice/);
  assert.throws(() => spec("tap,ifname=a-very-long-interface-name"), /ifname/);
  assert.throws(() => spec("switch=../x"), /name/);
  assert.throws(
    () => spec(`stream,server=on,addr.type=unix,addr.path=/${"x".repeat(200)}`),
    /Unix socket path/,
  );
  assert.throws(() => spec("user,mac=01:00:00:00:00:01"), /multicast/);
  assert.equal(spec("user,pcap=x.pcap").nics[0].pcap, "x.pcap");
});

test("reconnect=SECONDS on a connecting stream (QEMU -netdev stream,reconnect=); refused on a listener", () => {
  assert.deepEqual(parseNicFlag("stream,addr.type=unix,addr.path=/tmp/s,reconnect=2").backend, {
    kind: "stream",
    server: false,
    addr: { type: "unix", path: "/tmp/s" },
    reconnect: 2,
  });
  assert.equal(parseNicFlag("socket,connect=127.0.0.1:9,reconnect=1").backend?.kind, "stream");
  assert.throws(
    () => parseNicFlag("socket,connect=127.0.0.1:9,reconnect=x"),
    /reconnect must be a number of seconds/,
  );
  const spec = (nic: string) => validateVmSpec({ kernel: "k", nics: [parseNicFlag(nic)] });
  assert.throws(() => spec("socket,listen=:1,reconnect=1"), /reconnect: applies only to a connecting stream/);
  assert.throws(() => spec("socket,connect=127.0.0.1:9,reconnect=0"), /reconnect: must be 1..86400/);
});

test("a switch's --nat takes user's options only", () => {
  assert.deepEqual(parseNatOptions("--nat", true), { hostfwd: [] });
  assert.deepEqual(parseNatOptions("--nat", "hostfwd=tcp::8080-:80,hostdns=127.0.0.1"), {
    hostfwd: [{ proto: "tcp", hostPort: 8080, guestPort: 80 }],
    hostDns: ["127.0.0.1"],
  });
  assert.throws(() => parseNatOptions("--nat", "mac=52:54:00:00:00:01"), /^UserError: --nat: only hostfwd=/);
  assert.throws(() => parseNatOptions("--nat", "listen=:1"), /--nat: unknown option "listen"/);
});
