/**
 * Boot test: the bundled guest drives virtio-console (virtio 1.2 §5.3) — output and input through the
 * port beside the UART shell, a paste larger than the device's pending bound, and the shell itself on
 * the virtio console (console=hvc1), also through `tvisor run --console virtio`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { VIRTIO_CONSOLE_APPEND } from "../../src/vmm/vm-spec.js";
import {
  BOOT_TEST_TIMEOUT_MS,
  GuestSession,
  HANG_GUARD_MS,
  missingImages,
  runCliSession,
  type TestConsole,
  TVISOR_CLI,
} from "./guest-session.js";

/** Run `cmd` in the UART shell; once the guest writes `ready` to the virtio console, type `input` there. */
async function runFeeding(s: GuestSession, v: TestConsole, cmd: string, ready: RegExp, input: string) {
  const from = v.output.length;
  const answer = s.run(cmd);
  await Promise.race([v.waitFor(ready, HANG_GUARD_MS, from), answer]);
  v.type(input);
  return answer;
}

test("virtio console beside the UART shell: found in the guest, output and input both ways", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ virtioConsole: true });
  const v = s.virtioConsole;
  assert.ok(v);
  try {
    await s.waitForShell();
    // One device bound to virtio_console, with its single port (no MULTIPORT: port 0 only).
    assert.equal((await s.run("ls /sys/bus/virtio/drivers/virtio_console/ | grep virtio")).trim(), "virtio0");
    assert.equal(
      (await s.run("ls /sys/bus/virtio/drivers/virtio_console/virtio0/virtio-ports")).trim(),
      "vport0p0",
    );
    // hvc0 is the SBI console (not probed: reading it hands the host's console input to the SBI
    // console); of the other hvc ttys only the one with a backend can be opened.
    const ttys = await s.run("for d in /dev/hvc[1-7]; do (: < $d) 2>/dev/null && echo $d; done");
    assert.equal(ttys.trim(), "/dev/hvc1");
    assert.equal(v.output, "", "nothing reached the virtio console before the guest wrote to it");

    // Guest → host. The marker is built by the shell, so the typed command line never contains it.
    assert.equal((await s.run("echo vc-mark-$((6 * 7)) > /dev/hvc1; echo rc=$?")).trim(), "rc=0");
    await v.waitFor(/vc-mark-42\r\n/, HANG_GUARD_MS);
    assert.doesNotMatch(s.console.output, /vc-mark-42/, "the marker went to the virtio console only");

    // Host → guest: the shell opens the port, says READY on it, and reads one line typed there.
    const got = await runFeeding(
      s,
      v,
      'exec 3<>/dev/hvc1; echo RE""ADY >&3; read -r line <&3; exec 3<&-; echo "got:$line"',
      /READY\r\n/,
      "typed into virtio\n",
    );
    assert.equal(got.trim(), "got:typed into virtio");
    // The tty echoed the line back to the host (canonical mode, echo on).
    await v.waitFor(/typed into virtio\r\n$/, HANG_GUARD_MS);

    // A 200 000-byte paste in one chunk (more than the device's 64 KiB pending bound, less than
    // the receive buffers Linux posts) arrives complete and in order.
    const paste = Array.from({ length: 200_000 }, (_, i) => String.fromCharCode(0x21 + ((i * 31) % 94))).join(
      "",
    );
    const md5 = createHash("md5").update(paste).digest("hex");
    const sum = await runFeeding(
      s,
      v,
      'exec 3<>/dev/hvc1; stty -F /dev/hvc1 raw -echo; echo RE""ADY2 >&3; head -c 200000 <&3 | md5sum; exec 3<&-',
      /READY2/,
      paste,
    );
    assert.equal(sum.trim().split(/\s+/)[0], md5);
  } finally {
    await s.close();
  }
});

test("the shell on the virtio console (console=hvc1) answers through it", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const s = new GuestSession({ shellOn: "virtio", append: VIRTIO_CONSOLE_APPEND });
  try {
    // init announces itself, and the shell prompts, on the virtio console.
    await s.waitForShell();
    assert.equal((await s.run("uname -m")).trim(), "riscv64");
    assert.equal((await s.run("tty")).trim(), "/dev/hvc1");
    assert.match(await s.run("cat /proc/consoles"), /^hvc1\s/m);
    // The UART carried only the boot console's messages up to the handover.
    assert.match(s.console.output, /printk: console \[hvc1\] enabled/);
    assert.doesNotMatch(s.console.output, /guest ready/);
    s.type("poweroff\n");
    assert.deepEqual(await s.exit, { kind: "poweroff" });
  } finally {
    await s.close();
  }
});

test("tvisor run --console virtio: a script drives the shell on hvc1 over stdio", {
  timeout: BOOT_TEST_TIMEOUT_MS,
}, async (t) => {
  const why = missingImages();
  if (why) return t.skip(why);
  const { code, out, err } = await runCliSession(
    ["run", "--mem", "128M", "--console", "virtio"],
    "tty\nuname -m\necho uart-$((1 + 1)) > /dev/ttyS0\npoweroff\n",
  );
  assert.equal(code, 0, `exit ${code}; stderr: ${err}; output tail: ${out.slice(-800)}`);
  assert.match(out, /^\/dev\/hvc1\r?$/m, "the shell runs on the virtio console");
  assert.match(out, /^riscv64\r?$/m);
  // Early boot messages (SBI earlycon) and UART output still reach stdout.
  assert.match(out, /Linux version/);
  assert.match(out, /^uart-2\r?$/m);

  const bad = spawnSync(process.execPath, [TVISOR_CLI, "run", "--console", "hdmi"], { input: "" });
  assert.notEqual(bad.status, 0);
  assert.equal(bad.stderr.toString(), 'tvisor: --console: expected uart or virtio, got "hdmi"\n');
});
