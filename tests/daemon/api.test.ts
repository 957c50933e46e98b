/** The daemon's API over real Unix-socket and TCP connections: auth, validation, errors, OpenAPI, persistence, events. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";
import SwaggerParser from "@apidevtools/swagger-parser";
import { TVISOR_CLI } from "../boot/guest-session.js";
import { http, TestDaemon } from "./harness.js";

const daemon = new TestDaemon();
before(async () => {
  await daemon.start();
});
after(async () => {
  await daemon.dispose();
});

const err = (r: { body: unknown }) => r.body as { error: string; field?: string };

test("the Unix socket and the token file are 0600; TCP refuses a missing or wrong token", async () => {
  assert.equal(statSync(daemon.socketPath).mode & 0o777, 0o600);
  assert.equal(statSync(join(daemon.stateDir, "token")).mode & 0o777, 0o600);
  const token = readFileSync(join(daemon.stateDir, "token"), "utf8").trim();
  assert.match(token, /^[0-9a-f]{64}$/);
  const tcp = { port: daemon.tcpPort };
  assert.ok(daemon.tcpPort > 0);

  const none = await http(tcp, "GET", "/v1/vms");
  assert.equal(none.status, 401);
  assert.match(err(none).error, /missing bearer token/);
  const wrong = await http(tcp, "GET", "/v1/vms", {
    token: `${token.slice(0, -1)}0` === token ? "x" : `${token.slice(0, -1)}0`,
  });
  assert.equal(wrong.status, 401);
  assert.match(err(wrong).error, /wrong bearer token/);
  const short = await http(tcp, "GET", "/v1/vms", { token: "abc" });
  assert.equal(short.status, 401);
  // Every endpoint is behind the token on TCP, including the document, metrics and actions.
  for (const [m, p] of [
    ["GET", "/v1/openapi.json"],
    ["GET", "/metrics"],
    ["POST", "/v1/vms"],
    ["DELETE", "/v1/vms/x"],
  ])
    assert.equal(
      (await http(tcp, m, p, m === "POST" ? { body: { name: "x" } } : {})).status,
      401,
      `${m} ${p}`,
    );

  const ok = await http(tcp, "GET", "/v1/vms", { token });
  assert.equal(ok.status, 200);
  assert.deepEqual(Object.keys(ok.body as object), ["vms"]);
  // The Unix socket needs no token: its file mode is the access control.
  assert.equal((await daemon.call("GET", "/v1/vms")).status, 200);
});

test("malformed JSON, unknown fields and bad values get 400s naming the field", async () => {
  const post = (body: unknown) => daemon.call("POST", "/v1/vms", body);
  const malformed = await http(daemon.sock, "POST", "/v1/vms", { rawBody: '{"name": "a",' });
  assert.equal(malformed.status, 400);
  assert.match(err(malformed).error, /malformed JSON/);

  const cases: [unknown, string, RegExp][] = [
    [{ name: "a", colour: "red" }, "body.colour", /unknown field/],
    [{ name: "a", disks: [{ path: "/x", sparkly: true }] }, "body.disks[0].sparkly", /unknown field/],
    [{ name: "a", memBytes: 8 * 1024 ** 3 }, "body.memBytes", /<=/],
    [{ name: "a", memBytes: 64 * 1024 * 1024 + 1 }, "body.memBytes", /multiple/],
    [{ name: "a", cpus: 0 }, "body.cpus", />=/],
    [{ name: "a", cpus: "2" }, "body.cpus", /integer/],
    [{ name: "../etc", cpus: 1 }, "body.name", /pattern/],
    [{ cpus: 1 }, "body.name", /required/],
    [{ name: "a", console: "vga" }, "body.console", /allowed values/],
    [{ name: "a", disks: [{ path: "/x", format: "vmdk" }] }, "body.disks[0].format", /allowed values/],
    [{ name: "a", nics: [{ network: "n", mac: "zz" }] }, "body.nics[0].mac", /pattern/],
    [[1, 2], "body", /object/],
  ];
  for (const [body, field, re] of cases) {
    const r = await post(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.equal(err(r).field, field, JSON.stringify(body));
    assert.ok(err(r).error.startsWith(`${field}:`), err(r).error);
    assert.match(err(r).error, re, err(r).error);
  }
  // Checks that need the host or the whole machine still name the field.
  const missingKernel = await post({ name: "a", kernel: "/no/such/kernel" });
  assert.equal(missingKernel.status, 400);
  assert.equal(err(missingKernel).field, "body.kernel");
  assert.match(err(missingKernel).error, /no such file/);
  const missingDisk = await post({ name: "a", disks: [{ path: "/no/such.img" }] });
  assert.equal(err(missingDisk).field, "body.disks[0]");
  const dupMac = await post({
    name: "a",
    nics: [
      { network: "n", mac: "52:54:00:00:00:01" },
      { network: "n", mac: "52:54:00:00:00:01" },
    ],
  });
  assert.equal(dupMac.status, 400);
  assert.equal(err(dupMac).field, "body.nics[1].mac");
  const tooMany = await post({
    name: "a",
    disks: Array.from({ length: 8 }, () => ({ path: TVISOR_CLI, format: "raw" as const })),
  });
  assert.equal(tooMany.status, 400);
  assert.match(err(tooMany).error, /virtio|slots/);
  // Nothing of the refused VMs was stored.
  assert.deepEqual((await daemon.call("GET", "/v1/vms")).body, { vms: [] });
});

test("unknown VMs get 404, wrong states 409, and a defined VM is inspected, updated and deleted", async () => {
  assert.equal((await daemon.call("GET", "/v1/vms/ghost")).status, 404);
  assert.match(err(await daemon.call("POST", "/v1/vms/ghost/start")).error, /no VM named "ghost"/);
  assert.equal((await daemon.call("GET", "/v1/vms/bad%20name")).status, 400);
  assert.equal((await daemon.call("GET", "/v1/nothing")).status, 404);

  const created = await daemon.call("POST", "/v1/vms", { name: "web", memBytes: 64 * 1024 * 1024, cpus: 2 });
  assert.equal(created.status, 201);
  const info = created.body as { state: string; definition: { kernel?: string; memBytes?: number } };
  assert.equal(info.state, "defined");
  assert.match(info.definition.kernel ?? "", /Image\.gz$/, "the bundled kernel is recorded explicitly");
  assert.equal((await daemon.call("POST", "/v1/vms", { name: "web" })).status, 409);
  for (const action of ["pause", "resume", "stop", "kill"]) {
    const r = await daemon.call("POST", `/v1/vms/web/${action}`, {});
    assert.equal(r.status, 409, action);
    assert.match(err(r).error, /VM "web" is defined/);
  }
  const save = await daemon.call("POST", "/v1/vms/web/save", { file: "/tmp/x" });
  assert.equal(save.status, 409);
  const console409 = await daemon.call("GET", "/v1/vms/web/console");
  assert.equal(console409.status, 409);

  const upd = await daemon.call("PATCH", "/v1/vms/web", { cpus: 3, append: "console=ttyS0 quiet" });
  assert.equal(upd.status, 200);
  assert.equal((upd.body as { definition: { cpus: number } }).definition.cpus, 3);
  assert.equal((await daemon.call("PATCH", "/v1/vms/web", { name: "other" })).status, 400);
  const got = (await daemon.call("GET", "/v1/vms/web")).body as {
    definition: { cpus: number; append: string };
  };
  assert.equal(got.definition.cpus, 3);
  assert.equal(got.definition.append, "console=ttyS0 quiet");

  assert.equal((await daemon.call("DELETE", "/v1/vms/web")).status, 204);
  assert.equal((await daemon.call("GET", "/v1/vms/web")).status, 404);
});

test("POST /v1/switches makes a switch once; a NAT uplink's options are checked as a user NIC's", async () => {
  const made = await daemon.call("POST", "/v1/switches", { name: "api-plain" });
  assert.equal(made.status, 201);
  assert.equal((made.body as { natUplink: unknown }).natUplink, null);
  assert.equal((await daemon.call("POST", "/v1/switches", { name: "api-plain" })).status, 409);
  const bad = await daemon.call("POST", "/v1/switches", {
    name: "api-nat",
    nat: { hostDns: ["dns.example"] },
  });
  assert.equal(bad.status, 400);
  assert.match(err(bad).error, /^nat\.hostDns\[0\]: must be an IPv4 address/);
  const listed = await daemon.call("GET", "/v1/switches");
  assert.deepEqual(
    (listed.body as { switches: { name: string }[] }).switches.map((s) => s.name),
    ["api-plain"],
  );
});

test("the OpenAPI document validates and describes every route", async () => {
  const r = await daemon.call("GET", "/v1/openapi.json");
  assert.equal(r.status, 200);
  const doc = r.body as { openapi: string; paths: Record<string, Record<string, unknown>> };
  assert.equal(doc.openapi, "3.1.0");
  await SwaggerParser.validate(structuredClone(doc) as never);
  for (const [p, m] of [
    ["/v1/vms", "get"],
    ["/v1/vms", "post"],
    ["/v1/vms/{name}", "patch"],
    ["/v1/vms/{name}/stop", "post"],
    ["/v1/vms/{name}/save", "post"],
    ["/v1/vms/{name}/balloon", "post"],
    ["/v1/restore", "post"],
    ["/v1/vms/{name}/console", "get"],
    ["/v1/events", "get"],
    ["/metrics", "get"],
  ])
    assert.ok(doc.paths[p]?.[m], `${m} ${p} documented`);
});

test("events stream state changes as server-sent events; /metrics is Prometheus text", async () => {
  const events: string[] = [];
  const req = request({ socketPath: daemon.socketPath, path: "/v1/events" });
  const got = new Promise<void>((resolve) => {
    req.on("response", (res) => {
      assert.equal(res.headers["content-type"], "text/event-stream");
      res.on("data", (d: Buffer) => {
        events.push(d.toString());
        if (events.join("").includes('"kind":"deleted"')) resolve();
      });
      void daemon.call("POST", "/v1/vms", { name: "ev" }).then(() => daemon.call("DELETE", "/v1/vms/ev"));
    });
  });
  req.end();
  await got;
  req.destroy();
  const text = events.join("");
  assert.match(text, /event: defined\ndata: \{[^\n]*"vm":"ev"/);
  assert.match(text, /event: deleted\ndata: /);

  await daemon.call("POST", "/v1/vms", { name: "m1" });
  const metrics = await daemon.call("GET", "/metrics");
  assert.equal(metrics.status, 200);
  assert.match(metrics.text, /^# TYPE tvisor_vm_state gauge$/m);
  assert.match(metrics.text, /^tvisor_vm_state\{vm="m1",state="defined"\} 1$/m);
  assert.match(metrics.text, /^tvisor_vm_rss_bytes\{vm="m1"\} 0$/m);
  assert.equal((await daemon.call("DELETE", "/v1/vms/m1")).status, 204);
});

test("a disk defined without format= is probed once and recorded explicitly", async () => {
  const raw = join(daemon.stateDir, "plain.img");
  writeFileSync(raw, Buffer.alloc(1024 * 1024));
  const q = join(daemon.stateDir, "disk.qcow2");
  assert.equal(
    spawnSync(process.execPath, [TVISOR_CLI, "image", "create", "-f", "qcow2", q, "16M"]).status,
    0,
  );
  const r = await daemon.call("POST", "/v1/vms", {
    name: "disky",
    disks: [{ path: raw }, { path: q, readOnly: true }],
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  const info = r.body as { definition: { disks: { format: string }[] }; notes: string[] };
  assert.deepEqual(
    info.definition.disks.map((d) => d.format),
    ["raw", "qcow2"],
  );
  assert.ok(info.notes.some((n) => /disks\[0\]: format raw probed/.test(n)));
  assert.ok(info.notes.some((n) => /disks\[1\]: format qcow2 probed/.test(n)));
  const stored = JSON.parse(readFileSync(join(daemon.stateDir, "vms", "disky.json"), "utf8"));
  assert.deepEqual(
    stored.definition.disks.map((d: { format: string }) => d.format),
    ["raw", "qcow2"],
  );
  await daemon.waitLog(/VM disky: defined; .*format raw probed/);
  assert.equal((await daemon.call("DELETE", "/v1/vms/disky")).status, 204);
});

test("definitions survive kill -9 and a restart; nothing in the state directory is half-written", async () => {
  for (const name of ["alpha", "beta", "gamma"]) {
    const r = await daemon.call("POST", "/v1/vms", { name, cpus: 2, autostart: false });
    assert.equal(r.status, 201);
  }
  const before = ((await daemon.call("GET", "/v1/vms")).body as { vms: unknown[] }).vms;
  await daemon.stop("SIGKILL");
  // What a writer killed mid-write leaves (a temporary beside the file) and a file mangled by hand.
  const vms = join(daemon.stateDir, "vms");
  writeFileSync(join(vms, "alpha.json.tmp-0123456789ab"), '{"format":"tvisor-vm","vers');
  writeFileSync(join(vms, "broken.json"), "{ not json");
  await daemon.start(); // the killed daemon's socket file is stale; the new daemon takes it over
  const afterList = ((await daemon.call("GET", "/v1/vms")).body as { vms: unknown[] }).vms;
  assert.deepEqual(afterList, before);
  assert.match(daemon.log, /removed a half-written file .*alpha\.json\.tmp-0123456789ab/);
  assert.match(daemon.log, /skipping .*broken\.json/);
  const left = readdirSync(vms);
  assert.ok(!left.some((f) => f.includes(".tmp-")), left.join(","));
  for (const f of left.filter((f) => f !== "broken.json")) JSON.parse(readFileSync(join(vms, f), "utf8"));
  // A second daemon on the same state directory refuses to start.
  const second = new TestDaemon(daemon.stateDir);
  await assert.rejects(second.start([]), /already running/);
});

test("client verbs: one-line errors naming the VM or flag, and how to start a daemon when none answers", () => {
  const cli = (...args: string[]) => spawnSync(process.execPath, [TVISOR_CLI, ...args], { encoding: "utf8" });
  const nowhere = cli("list", "--state-dir", join(daemon.stateDir, "nowhere"));
  assert.equal(nowhere.status, 1);
  assert.equal(nowhere.stderr.trim().split("\n").length, 1);
  assert.match(
    nowhere.stderr,
    /no daemon answers on .*nowhere\/tvisor\.sock; start one with: tvisor daemon --state-dir /,
  );

  const sd = ["--state-dir", daemon.stateDir];
  const bad = cli("create", "x", "--mem", "lots", ...sd);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^tvisor: --mem: cannot parse "lots"/);
  const noKernel = cli("create", "x", "--kernel", "/no/kernel", ...sd);
  assert.match(noKernel.stderr, /^tvisor: --kernel: cannot read \/no\/kernel: no such file\n$/);
  const ghost = cli("start", "ghost", ...sd);
  assert.match(ghost.stderr, /^tvisor: no VM named "ghost"\n$/);

  assert.equal(cli("create", "cli-vm", "--cpus", "2", "--mem", "64M", ...sd).status, 0);
  const list = cli("list", ...sd);
  assert.match(list.stdout, /^NAME\s+STATE\s+CPUS\s+MEM/);
  assert.match(list.stdout, /^cli-vm\s+defined\s+2\s+64M/m);
  const json = JSON.parse(cli("list", "--json", ...sd).stdout) as { name: string }[];
  assert.ok(json.some((v) => v.name === "cli-vm"));
  const inspect = JSON.parse(cli("inspect", "cli-vm", "--json", ...sd).stdout) as {
    definition: { cpus: number };
  };
  assert.equal(inspect.definition.cpus, 2);
  assert.equal(cli("rm", "cli-vm", ...sd).status, 0);
  assert.match(cli("completion", "bash").stdout, /complete -F _tvisor tvisor/);
  assert.match(cli("completion", "zsh").stdout, /compdef _tvisor tvisor/);
});
