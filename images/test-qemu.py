#!/usr/bin/env python3
"""Boot the tvisor guest images under qemu-system-riscv64 (virt, OpenSBI) and
check them end to end: boot banner, shell, nproc, virtio-blk mkfs+mount,
virtio-rng, RTC, poweroff.  Expect-like driver over pipes, with timeouts.

usage: images/test-qemu.py [--kernel K] [--initrd I] [--timeout S]
exit status 0 when every scenario passes.
"""
import argparse, os, re, signal, subprocess, sys, tempfile, threading, time

HERE = os.path.dirname(os.path.abspath(__file__))


class Guest:
    def __init__(self, argv, log):
        self.log = log
        self.buf = b""
        self.pos = 0
        self.lock = threading.Condition()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.t0 = time.monotonic()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        while True:
            data = os.read(self.proc.stdout.fileno(), 4096)
            with self.lock:
                if not data:
                    self.eof = True
                    self.lock.notify_all()
                    return
                self.buf += data
                self.log.write(data)
                self.log.flush()
                self.lock.notify_all()

    eof = False

    def expect(self, pattern, timeout):
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                m = rx.search(self.buf, self.pos)
                if m:
                    self.pos = m.end()
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    tail = self.buf[-600:].decode(errors="replace")
                    raise TimeoutError(f"waiting for {pattern!r} ({'eof' if self.eof else 'timeout'}); tail:\n{tail}")
                self.lock.wait(min(left, 0.5))

    def send(self, s):
        self.proc.stdin.write(s.encode())
        self.proc.stdin.flush()

    def run(self, cmd, timeout=30):
        """Run cmd in the guest shell; return its output (between markers)."""
        n = int(time.monotonic() * 1000) % 100000
        self.send(f"echo BEGIN-$(( {n} + 1 )); {cmd}; echo END-$(( {n} + 1 ))-$?\n")
        self.expect(rf"BEGIN-{n + 1}\r*\n", timeout)
        start = self.pos
        m = self.expect(rf"END-{n + 1}-(\d+)", timeout)
        out = self.buf[start:m.start()].decode(errors="replace").replace("\r", "")
        return out, int(m.group(1))

    def elapsed(self):
        return time.monotonic() - self.t0

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


PROMPT = r"root@tvisor:[^\r\n]*# "


def qemu_argv(a, smp, append, extra):
    return ["qemu-system-riscv64", "-M", "virt", "-m", "256M", "-smp", str(smp),
            "-nographic", "-kernel", a.kernel, "-initrd", a.initrd,
            "-append", append] + extra


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernel", default=os.path.join(HERE, "riscv64", "Image.gz"))
    ap.add_argument("--initrd", default=os.path.join(HERE, "riscv64", "initramfs.cpio.gz"))
    ap.add_argument("--timeout", type=float, default=120)
    ap.add_argument("--log", default="/tmp/tvisor-qemu-test.log")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="tvisor-qemu-")
    # QEMU's -kernel loads a raw RISC-V Image; decompress Image.gz if needed.
    if a.kernel.endswith(".gz"):
        raw = os.path.join(tmp, "Image")
        with open(raw, "wb") as f:
            subprocess.check_call(["gzip", "-dc", a.kernel], stdout=f)
        a.kernel = raw
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(32 << 20)
    share = os.path.join(tmp, "share")
    os.mkdir(share)
    with open(os.path.join(share, "hello.txt"), "w") as f:
        f.write("hello-from-9p\n")
    log = open(a.log, "wb")
    results = []

    def check(name, ok, detail=""):
        results.append((name, ok))
        print(f"{'PASS' if ok else 'FAIL'} {name} {detail}".rstrip(), flush=True)

    # Scenario 1: ttyS0, smp 2, virtio-blk + virtio-rng.
    g = Guest(qemu_argv(a, 2, "console=ttyS0 earlycon=sbi", [
        "-drive", f"file={disk},if=none,id=d0,format=raw", "-device", "virtio-blk-device,drive=d0",
        "-device", "virtio-rng-device",
        "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0",
        "-fsdev", f"local,id=f0,path={share},security_model=none",
        "-device", "virtio-9p-device,fsdev=f0,mount_tag=host0"]), log)
    try:
        g.expect(r"tvisor: guest ready", a.timeout)
        check("ttyS0: 'tvisor: guest ready'", True, f"({g.elapsed():.1f}s)")
        g.expect(PROMPT, 30)
        check("ttyS0: shell prompt", True, f"({g.elapsed():.1f}s)")
        out, rc = g.run("nproc")
        check("nproc == 2", rc == 0 and out.strip() == "2", repr(out.strip()))
        out, rc = g.run("uname -a")
        check("uname", rc == 0 and "riscv64" in out, out.strip())
        out, rc = g.run("hostname")
        check("hostname == tvisor", out.strip() == "tvisor")
        out, rc = g.run("tty; sleep 5 & jobs; kill %1")
        check("job control on ttyS0", "/dev/ttyS0" in out and "Running" in out, repr(out.strip()))
        out, rc = g.run("mkfs.ext2 -q /dev/vda && mount -t ext4 /dev/vda /mnt && echo hello > /mnt/f && "
                        "sync && umount /mnt && mount /dev/vda /mnt && cat /mnt/f && umount /mnt", 60)
        check("virtio-blk mkfs.ext2 + mount (ext4 driver)", rc == 0 and "hello" in out, repr(out.strip()[-200:]))
        out, rc = g.run("cat /sys/class/misc/hw_random/rng_current; dd if=/dev/hwrng bs=16 count=1 2>/dev/null | hexdump -C")
        check("virtio-rng /dev/hwrng", rc == 0 and "virtio_rng" in out and "00000010" in out, repr(out.strip()))
        out, rc = g.run("date +%Y; cat /sys/class/rtc/rtc0/name; hwclock -r")
        check("goldfish RTC", rc == 0 and "goldfish" in out and int(out.split()[0]) >= 2024, repr(out.strip()))
        out, rc = g.run("udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1; ip -4 addr show eth0; ip route", 60)
        check("virtio-net + udhcpc (QEMU user net)", "10.0.2.15" in out and "default via 10.0.2.2" in out,
              repr(out.strip()[-160:]))
        out, rc = g.run("mount -t 9p -o trans=virtio,version=9p2000.L host0 /mnt && cat /mnt/hello.txt && umount /mnt")
        check("virtio-9p mount", rc == 0 and "hello-from-9p" in out, repr(out.strip()))
        out, rc = g.run("ls -l /dev/vsock /dev/hvc0 /dev/ttyS0 /dev/ptmx >/dev/null && echo devs-ok")
        check("/dev/vsock /dev/hvc0 /dev/ttyS0 /dev/ptmx", "devs-ok" in out, repr(out.strip()))
        out, rc = g.run("mount | grep -c -E ' /(proc|sys|dev|tmp|run) '")
        check("proc/sys/dev/tmp/run mounted", out.strip() == "5", repr(out.strip()))
        g.send("exit\n")
        g.expect(r"BusyBox v", 20)
        g.expect(PROMPT, 20)
        check("shell respawns after exit", True)
        g.send("poweroff -f\n")
        rc = g.wait_exit(30)
        check("poweroff -f exits qemu", rc is not None, f"(rc={rc})")
    except TimeoutError as e:
        check("scenario ttyS0", False, str(e))
    finally:
        g.kill()

    # Scenario 2: hvc0 (SBI console), single hart, plain poweroff via init.
    g = Guest(qemu_argv(a, 1, "console=hvc0 earlycon=sbi", []), log)
    try:
        g.expect(r"tvisor: guest ready", a.timeout)
        check("hvc0: 'tvisor: guest ready'", True, f"({g.elapsed():.1f}s)")
        g.expect(PROMPT, 30)
        out, rc = g.run("tty; nproc; sleep 5 & jobs; kill %1")
        check("hvc0: shell + job control", "/dev/hvc0" in out and "Running" in out, repr(out.strip()))
        g.send("reboot -f\n")
        g.expect(r"OpenSBI|Linux version", 30)
        g.expect(r"tvisor: guest ready", a.timeout)
        check("hvc0: reboot -f restarts the guest", True)
        g.expect(r"BusyBox v", 30)
        g.expect(PROMPT, 30)
        g.send("poweroff\n")
        rc = g.wait_exit(30)
        check("poweroff (via busybox init) exits qemu", rc is not None, f"(rc={rc})")
    except TimeoutError as e:
        check("scenario hvc0", False, str(e))
    finally:
        g.kill()

    failed = [n for n, ok in results if not ok]
    print(f"{len(results) - len(failed)}/{len(results)} checks passed; log: {a.log}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
