/** The VM process: one VirtualMachine per child process, driven by the daemon over the fork IPC channel. */
/*
 * Firecracker's rule: a VM process owns one machine, so a guest (or an emulator bug) that crashes, runs
 * out of memory or is killed takes down only this process. The daemon sees the exit and marks the VM
 * crashed; other VMs and the daemon are untouched.
 *
 * Console bytes, NIC frames and stats go to the daemon as IPC messages; the daemon fans the console out
 * to viewers and switches frames between VMs on the same network.
 */
import type { VmDefinition } from "../api/vm-spec.js";
import { errorMessage, UserError } from "../base/errors.js";
import { openImage } from "../storage/node/open-image.js";
import { Qcow2Image } from "../storage/qcow2/image.js";
import { TrackedDisk } from "../storage/tracked-disk.js";
import type { BlockBackend, CharBackend, NetBackend } from "../vmm/host-contracts.js";
import { createNodeHost } from "../vmm/node/node-host.js";
import {
  createVmSnapshot,
  deleteVmSnapshot,
  restoreVmFromSnapshot,
  revertVmDisks,
} from "../vmm/node/vm-snapshot.js";
import { VirtualMachine, type VmExit } from "../vmm/vm.js";
import { countingDisk } from "./counting-disk.js";
import { migrateVmIn, migrateVmOut, RelayInbox } from "./migration-vm.js";
import { restoreStateFile, saveStateFile } from "./state-file-glue.js";
import { nicNetwork, vmSpecOf } from "./vm-config-of.js";
import {
  type FromVm,
  type SnapshotReply,
  type ToVm,
  VM_EXIT_CLEAN,
  VM_EXIT_FATAL,
  type VmCounters,
} from "./vm-ipc.js";

/** How often counters go to the daemon. */
const STATS_INTERVAL_MS = 1000;
/**
 * The power button for the bundled guest: it has no ACPI, no input devices (CONFIG_INPUT is off) and no
 * host→guest power event on riscv-virt, so the console is the channel it understands: Ctrl-C ends a
 * foreground program, then (after the tty has flushed its input on the interrupt) `poweroff` is typed.
 * The guest then powers off through SBI SRST / the SiFive test device, and the process exits cleanly.
 */
const POWER_BUTTON_INTERRUPT = Uint8Array.of(0x03);
const POWER_BUTTON_COMMAND = new TextEncoder().encode("poweroff\n");
const POWER_BUTTON_DELAY_MS = 300;
/**
 * The press is repeated while the guest runs on: a Ctrl-C that arrives while the shell is still reading
 * a line is taken by its line editor as data (busybox lineedit clears ISIG), and a `poweroff` typed while a
 * program still holds the terminal goes to that program. A later press finds the shell in a steady state.
 */
const POWER_BUTTON_REPEAT_MS = 5000;

function send(msg: FromVm): void {
  // After the daemon has gone the channel is closed; the 'disconnect' handler ends the VM.
  if (!process.connected) return;
  process.send?.(msg, undefined, {}, () => {});
}

/** A console that forwards guest output to the daemon and takes input from it. */
class IpcConsole implements CharBackend {
  private handler: ((d: Uint8Array) => void) | null = null;
  private readonly early: Uint8Array[] = [];
  write(data: Uint8Array): void {
    // Copy: the device may reuse its buffer after write returns.
    send({ t: "console", data: data.slice() });
  }
  onInput(handler: (d: Uint8Array) => void): void {
    this.handler = handler;
    for (const d of this.early.splice(0)) handler(d);
  }
  input(data: Uint8Array): void {
    if (this.handler) this.handler(data);
    else if (this.early.length < 1024) this.early.push(data);
  }
}

/** One NIC's host side: frames go to the daemon's switch for the NIC's network. */
class IpcNic implements NetBackend {
  private handler: ((f: Uint8Array) => void) | null = null;
  constructor(
    private readonly nic: number,
    private readonly counters: VmCounters["net"],
  ) {}
  send(frame: Uint8Array): void {
    this.counters.txFrames++;
    this.counters.txBytes += frame.length;
    send({ t: "net", nic: this.nic, frame: frame.slice() });
  }
  onReceive(handler: (f: Uint8Array) => void): void {
    this.handler = handler;
  }
  receive(frame: Uint8Array): void {
    this.counters.rxFrames++;
    this.counters.rxBytes += frame.length;
    this.handler?.(frame);
  }
  close(): void {
    this.handler = null;
  }
}

function describeExit(e: VmExit): string {
  if (e.kind === "fail") return `guest reported failure (code ${e.code})`;
  if (e.kind === "reset") return "guest reset (noReboot)";
  if (e.kind === "poweroff") return "guest powered off";
  return "stopped";
}

/** Run in the forked child: wait for `start`, then serve the daemon until the guest ends. */
export function runVmProcess(): void {
  if (!process.send) {
    process.stderr.write("tvisor-vm: this program is started by `tvisor daemon`\n");
    process.exit(2);
  }
  const counters: VmCounters = {
    instructions: 0,
    boots: 0,
    cpuUserUs: 0,
    cpuSystemUs: 0,
    rssBytes: 0,
    disk: { readBytes: 0, writeBytes: 0, reads: 0, writes: 0, flushes: 0 },
    net: { rxBytes: 0, txBytes: 0, rxFrames: 0, txFrames: 0 },
    nics: [],
    memory: null,
  };
  const console = new IpcConsole();
  /** The NICs on daemon networks, by position (others have backends of their own, opened by the VMM). */
  let nics: (IpcNic | undefined)[] = [];
  let vm: VirtualMachine | null = null;
  /** The current run() promise; null while paused. */
  let running: Promise<VmExit> | null = null;
  let pausing = false;
  /** A snapshot's pre-copy is writing RAM while the guest runs. */
  let snapshotting = false;
  /**
   * The user's own pause/resume while a snapshot of the running VM is being taken: the snapshot pauses
   * and resumes the guest itself, so a user pause must outlast it (not be undone by its resume), and a
   * user resume must not restart the guest in the middle of the snapshot's pause (the disks' snapshots
   * and the last RAM pages would no longer be one instant). The last request wins at the snapshot's end.
   */
  let userPausedDuringSnapshot = false;
  /** The inbox of an incoming migration, while one is arriving. */
  let inbox: RelayInbox | null = null;
  /** The VM's images as opened (spec order, unwrapped), for snapshots on the disks the VM holds open. */
  let images: BlockBackend[] = [];
  /** The same disks behind their dirty-range trackers (what the guest writes through), for --copy-storage. */
  let tracked: TrackedDisk[] = [];
  let def: VmDefinition | null = null;
  let vmIndex = 0;
  /** The host services; disks opened through it are counted and remembered in `images`. */
  const makeHost = () => {
    const host = createNodeHost(console, (m) => process.stderr.write(`${m}\n`));
    const openDisk = host.openDisk;
    images = [];
    tracked = [];
    host.openDisk = async (path, opts) => {
      const img = await openDisk(path, opts);
      images.push(img);
      const t = new TrackedDisk(img);
      tracked.push(t);
      return countingDisk(t, counters.disk);
    };
    return host;
  };

  /** Report the last emulator (or start) error and end the process; the daemon marks the VM crashed. */
  const fatal = (e: unknown): void => {
    send({ t: "fatal", error: errorMessage(e) });
    if (process.env.TVISOR_DEBUG) process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    // Exit once the IPC message has been flushed.
    process.exitCode = VM_EXIT_FATAL;
    setImmediate(() => process.exit(VM_EXIT_FATAL));
  };

  const follow = (p: Promise<VmExit>) => {
    running = p;
    p.then(
      (exit) => {
        if (exit.kind === "stopped" && pausing) return; // a pause, not an end
        send({ t: "exit", how: describeExit(exit) });
        void vm?.close().finally(() => {
          process.exitCode = VM_EXIT_CLEAN;
          setImmediate(() => process.exit(VM_EXIT_CLEAN));
        });
      },
      (e) => fatal(e),
    );
  };

  const sampleStats = () => {
    const cpu = process.cpuUsage();
    counters.cpuUserUs = cpu.user;
    counters.cpuSystemUs = cpu.system;
    counters.rssBytes = process.memoryUsage.rss();
    counters.instructions = vm?.instret ?? 0;
    counters.boots = vm?.boots ?? 0;
    counters.memory = vm?.memoryInfo() ?? null;
    counters.nics = vm?.nicCounters.map((c) => ({ ...c })) ?? counters.nics;
    // Fresh guest statistics for the next sample (§5.5.6.3: the driver answers when it runs).
    vm?.requestMemoryStats();
    send({ t: "stats", counters });
  };
  setInterval(sampleStats, STATS_INTERVAL_MS).unref();

  const pause = async () => {
    if (!vm || !running) return;
    pausing = true;
    const p = running;
    vm.stop();
    await p;
    running = null;
  };

  /**
   * The machine state of snapshot `name` for a VM starting on disks reverted to it: read from the
   * snapshot's own VM-state area (a read-only open viewing the snapshot's L1; the active view no longer
   * holds it), restored paused.
   */
  const resumeFromSnapshot = async (
    disks: readonly { path: string; readOnly?: boolean }[],
    name: string,
    host: ReturnType<typeof makeHost>,
  ): Promise<VirtualMachine> => {
    const state = disks.findIndex((d) => !d.readOnly);
    if (state < 0) throw new UserError(`snapshot '${name}': the VM has no writable disk`);
    const reader = await openImage(disks[state].path, { format: "qcow2", readOnly: true });
    try {
      if (!(reader instanceof Qcow2Image)) throw new UserError(`disk ${state} is not qcow2`);
      const snap = reader.snapshots.find((s) => s.name === name);
      if (!snap) throw new UserError(`snapshot '${name}' is not on disk ${state} of this VM`);
      await reader.viewSnapshot(snap);
      return await restoreVmFromSnapshot(reader, name, host, {
        attachments: { nics },
        overrides: { vmIndex, name: def!.name },
      });
    } finally {
      await reader.close();
    }
  };

  /** A snapshot verb on the paused VM. */
  const snapshotOp = async (op: "create" | "revert" | "delete", name: string): Promise<SnapshotReply> => {
    const current = vm!;
    const disks = current.spec.disks;
    if (op === "create") {
      const r = await createVmSnapshot(current, disks, images, name);
      return { ...r, pauseMs: 0 };
    }
    if (op === "delete") {
      await deleteVmSnapshot(disks, images, name);
      return { disks: [], stateDisk: null, vmStateBytes: 0, pauseMs: 0 };
    }
    // Revert in place: the images are checked for the snapshot first (through the VM's own handles),
    // then the machine is closed, its disks reverted, and a new machine restored from the state; the
    // console and NIC backends of this process carry over, so viewers stay attached.
    const state = disks.findIndex((d) => !d.readOnly);
    const stateImg = images[state];
    const snap = stateImg instanceof Qcow2Image ? stateImg.snapshots.find((s) => s.name === name) : undefined;
    if (!snap) throw new UserError(`snapshot '${name}' is not on disk ${state} of this VM`);
    if (snap.vmStateSize === 0)
      throw new UserError(
        `snapshot '${name}' holds disks only (taken while stopped): stop the VM to revert to it`,
      );
    await current.close();
    images = [];
    vm = null;
    try {
      const opened: BlockBackend[] = [];
      try {
        for (const d of disks)
          opened.push(await openImage(d.path, { format: d.format, readOnly: d.readOnly }));
        await revertVmDisks(disks, opened, name);
      } finally {
        for (const img of opened) await img.close().catch(() => {});
      }
      const reader = await openImage(disks[state].path, { format: "qcow2", readOnly: true });
      try {
        vm = await restoreVmFromSnapshot(reader as Qcow2Image, name, makeHost(), {
          attachments: { nics },
          overrides: { vmIndex, name: def!.name },
        });
      } finally {
        await reader.close();
      }
      // The state was read from the active view; the snapshot keeps its own copy.
      const own = images[state];
      if (own instanceof Qcow2Image) await own.dropActiveVmState();
    } catch (e) {
      // The old machine is gone; without a new one the VM has ended.
      fatal(e);
      throw e;
    }
    return { disks: [], stateDisk: state, vmStateBytes: snap.vmStateSize, pauseMs: 0 };
  };

  const handle = async (msg: ToVm) => {
    switch (msg.t) {
      case "start": {
        def = msg.def;
        vmIndex = msg.vmIndex;
        nics = (def.nics ?? []).map((n, i) =>
          nicNetwork(n) === undefined ? undefined : new IpcNic(i, counters.net),
        );
        const host = makeHost();
        if (msg.incoming) {
          const box = new RelayInbox(
            (text) => send({ t: "migReply", text }),
            (n) => send({ t: "migAck", n }),
          );
          inbox = box;
          send({ t: "running" });
          try {
            vm = await migrateVmIn(def, msg.vmIndex, host, nics, box);
          } catch (e) {
            box.reply({ t: "error", error: errorMessage(e) });
            fatal(e);
            return;
          }
          inbox = null;
          // The daemon learns of the commit before the source does, so the source closing its socket
          // after `resumed` is never taken for a failure. Both go out before the guest's first slice.
          send({ t: "migrated" });
          box.reply({ t: "resumed" });
          follow(vm.resume());
          sampleStats();
          return;
        }
        try {
          if (msg.file) {
            vm = await restoreStateFile(msg.file, host, nics, msg.vmIndex, def.name);
            follow(vm.resume());
          } else if (msg.snapshot !== undefined) {
            vm = await resumeFromSnapshot(vmSpecOf(def, vmIndex).disks ?? [], msg.snapshot, host);
            follow(vm.resume());
          } else {
            vm = new VirtualMachine(vmSpecOf(def, vmIndex), host, { nics });
            await vm.prepare();
            follow(vm.run());
          }
        } catch (e) {
          fatal(e);
          return;
        }
        send({ t: "running" });
        sampleStats();
        return;
      }
      case "input":
        console.input(msg.data);
        return;
      case "migIn":
        inbox?.push(msg.data);
        return;
      case "migrate": {
        if (!vm || !running) throw new Error("the VM is not running");
        // The dirty-page log is one per RAM, and a snapshot's pre-copy holds it.
        if (snapshotting) throw new Error("a snapshot is being taken: migrate the VM afterwards");
        const v = vm;
        const report = await migrateVmOut(
          v,
          {
            pause,
            resume: () => {
              if (!running) {
                pausing = false;
                follow(v.resume());
              }
            },
          },
          msg.def,
          msg.url,
          msg.token,
          msg.maxDowntimeMs,
          (m) => process.stderr.write(`migration: ${m}\n`),
          msg.copyStorage ? tracked : undefined,
        );
        send({ t: "reply", id: msg.id, ok: true, result: report });
        // The VM is the destination's now: close the disks (flushed already) and end this process.
        send({ t: "exit", how: `migrated to ${msg.url.replace(/^ws:\/\/|\/v1.*$/g, "")}` });
        await v.close().catch(() => {});
        process.exitCode = VM_EXIT_CLEAN;
        setImmediate(() => process.exit(VM_EXIT_CLEAN));
        return;
      }
      case "net":
        nics[msg.nic]?.receive(msg.frame);
        return;
      case "powerButton": {
        const press = () => {
          console.input(POWER_BUTTON_INTERRUPT);
          setTimeout(() => console.input(POWER_BUTTON_COMMAND), POWER_BUTTON_DELAY_MS).unref();
        };
        press();
        setInterval(press, POWER_BUTTON_REPEAT_MS).unref();
        return;
      }
      case "pause":
        if (snapshotting) userPausedDuringSnapshot = true;
        await pause();
        send({ t: "reply", id: msg.id, ok: true });
        return;
      case "resume":
        if (snapshotting) userPausedDuringSnapshot = false;
        else if (vm && !running) {
          pausing = false;
          follow(vm.resume());
        }
        send({ t: "reply", id: msg.id, ok: true });
        return;
      case "balloon":
        if (!vm) throw new Error("the VM has not started");
        vm.setMemoryTarget(msg.bytes);
        send({ t: "reply", id: msg.id, ok: true });
        return;
      case "save": {
        if (!vm) throw new Error("the VM has not started");
        await pause();
        const t0 = performance.now();
        const bytes = await saveStateFile(vm, msg.file);
        send({ t: "reply", id: msg.id, ok: true, result: { bytes, ms: performance.now() - t0 } });
        return;
      }
      case "snapshot": {
        if (!vm || !def) throw new Error("the VM has not started");
        const wasRunning = running !== null;
        if (msg.op === "create" && wasRunning) {
          // RAM is written while the guest runs; createVmSnapshot pauses it only for the rest.
          const v = vm;
          snapshotting = true;
          userPausedDuringSnapshot = false;
          let r: Awaited<ReturnType<typeof createVmSnapshot>>;
          try {
            r = await createVmSnapshot(v, v.spec.disks, images, msg.name, new Date(), {
              pause,
              resume: () => {
                if (vm === v && !running && !userPausedDuringSnapshot) {
                  pausing = false;
                  follow(v.resume());
                }
              },
            });
          } finally {
            snapshotting = false;
          }
          send({ t: "reply", id: msg.id, ok: true, result: { ...r, pauseMs: r.pauseMs ?? 0 } });
          return;
        }
        const t0 = performance.now();
        await pause();
        let result: SnapshotReply;
        try {
          result = await snapshotOp(msg.op, msg.name);
        } finally {
          if (wasRunning && vm && !running) {
            pausing = false;
            follow(vm.resume());
          }
        }
        result.pauseMs = performance.now() - t0;
        send({ t: "reply", id: msg.id, ok: true, result });
        return;
      }
    }
  };

  process.on("message", (raw: unknown) => {
    const msg = raw as ToVm;
    handle(msg).catch((e) => {
      if ("id" in msg) send({ t: "reply", id: msg.id, ok: false, error: errorMessage(e) });
      else send({ t: "fatal", error: errorMessage(e) });
    });
  });
  // The daemon went away: a VM without its daemon has no console and no control; end it.
  process.on("disconnect", () => {
    vm?.stop();
    setTimeout(() => process.exit(VM_EXIT_CLEAN), 2000).unref();
    void vm
      ?.close()
      .catch(() => {})
      .finally(() => process.exit(VM_EXIT_CLEAN));
  });
}
