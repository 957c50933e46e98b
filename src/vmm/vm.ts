/** One virtual machine's lifecycle: specification → host backends → riscv-virt board → run, reboot, stop, save. */
import { errorMessage, FieldError, UserError } from "../base/errors.js";
import type { SavedState } from "../base/state.js";
import { type BalloonCounters, type BalloonGuestStats, VirtioBalloon } from "../devices/virtio/balloon.js";
import { VirtioBlock } from "../devices/virtio/block.js";
import { VirtioConsole } from "../devices/virtio/console.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioNet } from "../devices/virtio/net.js";
import { VirtioRng } from "../devices/virtio/rng.js";
import type { BlockBackend } from "../io/block-backend.js";
import type { CharBackend } from "../io/char-backend.js";
import { type NetBackend, type NetCounters, newNetCounters } from "../io/net-backend.js";
import { flattenFirmware } from "../machine/firmware-image.js";
import { isGzip, type LinuxKernel, loadBootKernel } from "../machine/linux-image.js";
import { type MachineExit, RiscvVirt } from "../machine/riscv-virt.js";
import { VIRT_DRAM_BASE } from "../machine/virt-memory-map.js";
import { CapturingBackend, type FrameCapture } from "../net/frame-capture.js";
import { bootFileLimit, bootFileLimitReason } from "./boot-file-limit.js";
import type { VmHost } from "./vm-host.js";
import { effectiveAppend, nicMacs, type VmSpec, type VmSpecInput, validateVmSpec } from "./vm-spec.js";

/**
 * The live host objects a VM is wired to, which a VmSpec (plain data) cannot hold. The embedder owns
 * them and closes them; they stay attached across guest reboots and restores.
 */
export interface VmAttachments {
  /**
   * The host side of NICs in `spec.nics`, by position (a NetHub port, the daemon's network relay).
   * Required for `hub` NICs; a backend given for another kind replaces the one the VM would open
   * (tests). NICs without one are opened by `VmHost.openNic` at prepare() and closed with the VM.
   */
  nics?: (NetBackend | undefined)[];
  /**
   * The virtio console's host side when `spec.console` is "virtio". Absent: the host console
   * (`VmHost.console`), and then the UART keeps writing to it but gets no input, as QEMU's
   * `-chardev stdio,mux=on` shared by `-serial` and `-device virtconsole`.
   */
  virtioConsole?: CharBackend;
}

/** How a run ended, for the exit status: poweroff → 0; fail → the guest's code; stopped → 0. */
export type VmExit =
  | { kind: "poweroff" }
  | { kind: "fail"; code: number }
  | { kind: "stopped" }
  | { kind: "reset" }; // only with noReboot

interface LoadedImages {
  kernel?: LinuxKernel;
  initrd?: Uint8Array;
  firmware?: Uint8Array;
}

/** A Linux VM on the riscv-virt board. `bios: "none"` (bare programs) is handled by the bare runner. */
export class VirtualMachine {
  /** The validated, normalized specification this VM was built from. */
  readonly spec: VmSpec;
  private images: LoadedImages | null = null;
  private disks: BlockBackend[] = [];
  /** MAC of each configured NIC, fixed for the VM's lifetime so reboots keep the guest's address. */
  private readonly macs: Uint8Array[];
  /** The current board's NICs, detached from their backends at close(). */
  private nics: VirtioNet[] = [];
  /** Each NIC's cable: plugged in or not. Host-side state, so it outlives reboots and restores. */
  private readonly linkUp: boolean[];
  private current: RiscvVirt | null = null;
  /** The current board's virtio-blk devices (drained before a save). */
  private blocks: VirtioBlock[] = [];
  /** The current board's balloon (when spec.balloon). */
  private balloon: VirtioBalloon | null = null;
  /** Pages the host wants in the balloon: host-side, so a reboot's fresh driver inflates to it again. */
  private balloonTarget = 0;
  /** Whether the host took guest RAM for page sharing (MADV_MERGEABLE) on the current board. */
  private ramShareable = false;
  private running = false;
  private stopRequested = false;
  /** Boots so far (1 + number of guest reboots). */
  boots = 0;
  /** Instructions retired over all boots. */
  private retiredBefore = 0;

  /** The attached backends (owned by the embedder), by NIC position. */
  private readonly attachedNics: (NetBackend | undefined)[];
  /** Every NIC's backend once prepared; those not attached are the VM's to close. */
  private nicBackends: NetBackend[] = [];
  private ownedNics: NetBackend[] = [];
  /** The NICs' packet captures (`pcap`), kept across guest reboots like the backends, closed with them. */
  private captures: FrameCapture[] = [];
  /** Per-NIC traffic counters, kept across reboots and restores (a new board's NIC counts on). */
  readonly nicCounters: NetCounters[];
  /** The virtio console's backend (when spec.console is "virtio") and what the UART is wired to. */
  private readonly virtioConsole: CharBackend | null;
  private readonly serial: CharBackend;

  /** Validate `spec` (a FieldError names the bad field) and wire the attachments; nothing is opened yet. */
  constructor(
    spec: VmSpecInput,
    private readonly host: VmHost,
    attach: VmAttachments = {},
  ) {
    this.spec = validateVmSpec(spec);
    if (this.spec.bios === "none")
      throw new FieldError("bios", "none runs a bare program (runBareElf), not a Linux VM", "none");
    this.macs = nicMacs(this.spec);
    this.linkUp = this.macs.map(() => true);
    this.attachedNics = attach.nics ?? [];
    if (this.attachedNics.length > this.spec.nics.length)
      throw new Error(
        `${this.spec.nics.length} NIC(s) specified but ${this.attachedNics.length} backend(s) attached`,
      );
    this.spec.nics.forEach((n, i) => {
      if (n.backend.kind === "hub" && this.attachedNics[i] === undefined)
        throw new FieldError(
          `nics[${i}].backend`,
          "a network NIC is a port the daemon attaches (tvisor create --nic NETWORK); " +
            "without the daemon use user, switch=NAME, socket, stream, dgram or tap",
          n.backend.network,
        );
    });
    this.nicCounters = this.spec.nics.map(() => newNetCounters());
    if (this.spec.console === "virtio") {
      this.virtioConsole = attach.virtioConsole ?? host.console;
      const hostConsole = host.console;
      // The virtio console takes the host console's input; the UART and SBI console only write to it.
      this.serial =
        this.virtioConsole === hostConsole
          ? { write: (d) => hostConsole.write(d), onInput: () => {} }
          : hostConsole;
    } else {
      this.virtioConsole = null;
      this.serial = host.console;
    }
  }

  /** The board currently running (null before start). */
  get machine(): RiscvVirt | null {
    return this.current;
  }

  get instret(): number {
    return this.retiredBefore + (this.current?.instret ?? 0);
  }

  /** Read kernel, initrd and firmware, open the disks, and build the first board (powered on, not running). */
  async prepare(): Promise<void> {
    await this.load();
    // Build the first board now: a memory too small for kernel and initrd fails here, and console input
    // that arrives before run() reaches the board that will run (not one thrown away).
    this.current = this.build();
    this.boots++;
  }

  /** Read kernel, initrd and firmware, and open the disks. Every user mistake becomes one UserError. */
  private async load(): Promise<void> {
    if (this.images) return;
    const c = this.spec;
    const images: LoadedImages = {};
    const external = c.bios !== "builtin";
    // Nothing larger than RAM can be placed in it: read and decompress no more than that (a bound
    // checked before any byte is read, so --kernel /dev/zero or a gzip bomb cannot exhaust the host).
    const limit = bootFileLimit(c.memBytes);
    const read = (path: string, what: string) =>
      this.host.readFile(path, what, limit, bootFileLimitReason(c.memBytes));
    if (c.kernel)
      // A Linux Image, an ELF or a raw binary, as QEMU's -kernel (U-Boot's u-boot.bin is raw).
      images.kernel = await loadBootKernel(await read(c.kernel, "kernel"), this.host.gunzip, "kernel", limit);
    if (c.initrd) {
      // The kernel unpacks gzip itself (CONFIG_RD_GZIP); the initramfs is passed through unchanged.
      images.initrd = await read(c.initrd, "initrd");
      if (images.initrd.length === 0) throw new UserError(`initrd: ${c.initrd} is empty`);
    }
    if (external) {
      images.firmware = await read(c.bios, "bios");
      if (isGzip(images.firmware)) {
        try {
          images.firmware = await this.host.gunzip(images.firmware, limit);
        } catch (e) {
          throw new UserError(`bios: ${c.bios}: ${errorMessage(e)}`);
        }
      }
      // ELF firmware (fw_jump.elf) is flattened to the image QEMU would load; 2 MiB is the room below the kernel.
      try {
        images.firmware = flattenFirmware(images.firmware, VIRT_DRAM_BASE, 2 * 1024 * 1024);
      } catch (e) {
        // ELF parse errors ("corrupt ELF file: ...") do not say which file they are about.
        if (e instanceof UserError && !e.message.startsWith("bios:"))
          throw new UserError(`bios: ${c.bios}: ${e.message}`);
        throw e;
      }
    }
    await this.openNics();
    for (const [i, d] of c.disks.entries()) {
      try {
        this.disks.push(await this.host.openDisk(d.path, { format: d.format, readOnly: d.readOnly }));
      } catch (e) {
        for (const opened of this.disks.splice(0)) await opened.close().catch(() => {});
        this.closeNics();
        // Say which disk the error is about; the CLI turns the field into its flag.
        if (e instanceof UserError && !(e instanceof FieldError))
          throw new FieldError(`disks[${i}]`, e.message, d.path);
        throw e;
      }
    }
    this.images = images;
  }

  /** Open the backends of the NICs nothing was attached for (passt, sockets, switches, TAPs). */
  private async openNics(): Promise<void> {
    const backends: NetBackend[] = [];
    for (const [i, nic] of this.spec.nics.entries()) {
      try {
        let b = this.attachedNics[i];
        if (b === undefined) {
          b = await this.host.openNic(nic, {
            index: i,
            mac: this.macs[i],
            vmName: this.spec.name,
            log: (m) => this.host.log(m),
          });
          this.ownedNics.push(b);
        }
        if (nic.pcap !== undefined) {
          if (!this.host.openCapture)
            throw new FieldError(`nics[${i}].pcap`, "packet capture is not available on this host", nic.pcap);
          const capture = this.host.openCapture(nic.pcap);
          this.captures.push(capture);
          b = new CapturingBackend(b, capture);
        }
        backends.push(b);
      } catch (e) {
        this.closeNics();
        if (e instanceof UserError && !(e instanceof FieldError))
          throw new FieldError(`nics[${i}]`, e.message, nic.backend.kind);
        throw e;
      }
    }
    this.nicBackends = backends;
  }

  private closeNics(): void {
    for (const c of this.captures.splice(0)) c.close();
    for (const b of this.ownedNics.splice(0)) {
      try {
        b.close();
      } catch {
        // Closing is best effort; a backend that fails to close has nothing left to lose.
      }
    }
    this.nicBackends = [];
  }

  /**
   * Build a fresh board and load the images (used at power-on and at every guest reboot); with
   * `boot` false the board is left empty for a restore to fill.
   */
  private build(boot = true): RiscvVirt {
    if (!this.images) throw new Error("prepare() first");
    // Slot order is disks, NICs, console, rng (virtioSlots): stable across boots, so guest device
    // names and snapshots match.
    this.blocks = this.disks.map((backend) => new VirtioBlock({ backend }));
    const virtio: VirtioDevice[] = [...this.blocks];
    // A fresh VirtioNet on the same backend re-registers as its receiver, replacing the old board's.
    this.nics = this.nicBackends.map(
      (backend, i) => new VirtioNet({ backend, mac: this.macs[i], counters: this.nicCounters[i] }),
    );
    this.nics.forEach((n, i) => {
      n.setLinkUp(this.linkUp[i]);
    });
    virtio.push(...this.nics);
    // A fresh VirtioConsole registers itself as the backend's input receiver, replacing the old board's.
    if (this.virtioConsole) virtio.push(new VirtioConsole({ char: this.virtioConsole }));
    if (this.spec.rng) virtio.push(new VirtioRng({ entropy: (b) => this.host.entropy(b) }));
    this.balloon = this.spec.balloon ? new VirtioBalloon({ reporting: this.spec.freePageReporting }) : null;
    if (this.balloon) virtio.push(this.balloon);
    const m = new RiscvVirt({
      ramBytes: this.spec.memBytes,
      harts: this.spec.cpus,
      firmware: this.spec.bios === "builtin" ? "builtin" : "external",
      clock: this.host.clock,
      console: this.serial,
      virtio,
      random: (n) => {
        const b = new Uint8Array(n);
        this.host.entropy(b);
        return b;
      },
      log: (msg) => this.host.log(msg),
      jit: this.spec.jit,
      jitCacheSize: this.spec.jitCacheSize,
    });
    // Pages the guest gives up (balloon, free page reporting) go back to the host, and RAM is offered
    // to the host's page sharing (KSM), as QEMU does with mem-merge=on.
    this.ramShareable = m.ram.setReleaser(this.host.memoryReleaser?.(m.ram.buffer) ?? null);
    this.balloon?.setTarget(this.balloonTarget);
    if (!boot) return m;
    m.loadLinux({
      kernel: this.images.kernel,
      initrd: this.images.initrd,
      firmware: this.images.firmware,
      bootargs: effectiveAppend(this.spec),
    });
    return m;
  }

  /** Power on and run until the guest powers off, fails, or stop() is called. Guest reboots start over. */
  async run(): Promise<VmExit> {
    if (this.running) throw new Error("the VM is already running");
    this.running = true;
    try {
      return await this.runLoop();
    } finally {
      this.running = false;
    }
  }

  /** Whether run() is in progress (a save needs the VM paused: stop() and await run()). */
  get isRunning(): boolean {
    return this.running;
  }

  /** The open disk backends, in spec order (for a state file's disk identities). */
  get diskBackends(): readonly BlockBackend[] {
    return this.disks;
  }

  private async runLoop(): Promise<VmExit> {
    if (!this.images) await this.prepare();
    for (;;) {
      if (this.current === null) {
        this.current = this.build();
        this.boots++;
      }
      if (this.stopRequested) return { kind: "stopped" };
      const exit: MachineExit = await this.current.run();
      if (exit.kind === "reset") {
        if (this.spec.noReboot) return { kind: "reset" };
        this.retiredBefore += this.current.instret;
        this.current = null;
        continue;
      }
      return exit;
    }
  }

  /** Stop the run (Ctrl-A X, tests); run() resolves with { kind: "stopped" }. */
  stop(): void {
    this.stopRequested = true;
    this.current?.stop();
  }

  /**
   * Plug NIC `nic` (in spec order) in or out, like QEMU's set_link: the guest sees the carrier
   * change through VIRTIO_NET_S_LINK_UP and a configuration interrupt (virtio 1.2 §5.1.4), and
   * no frame passes while it is down.
   */
  setLinkUp(nic: number, up: boolean): void {
    if (!Number.isInteger(nic) || nic < 0 || nic >= this.linkUp.length)
      throw new UserError(`no NIC ${nic}: this VM has ${this.linkUp.length}`);
    this.linkUp[nic] = up;
    this.nics[nic]?.setLinkUp(up);
  }

  /**
   * Ask the guest to keep at most `bytes` of RAM (QEMU's `balloon` monitor command): the balloon
   * inflates to the rest, or deflates. The guest's driver does the work; `memoryInfo` shows progress.
   */
  setMemoryTarget(bytes: number): void {
    if (!this.spec.balloon)
      throw new UserError("this VM has no balloon device (it was created with balloon off)");
    if (!Number.isSafeInteger(bytes) || bytes < 0)
      throw new UserError(`memory target must be a non-negative number of bytes, got ${bytes}`);
    const keep = Math.min(bytes, this.spec.memBytes);
    this.balloonTarget = Math.floor((this.spec.memBytes - keep) / 4096);
    this.balloon?.setTarget(this.balloonTarget);
  }

  /** Ask the guest's balloon driver for fresh statistics; false when it has not answered the last request. */
  requestMemoryStats(): boolean {
    return this.balloon?.requestStats() ?? false;
  }

  /** The balloon's state and the guest's memory statistics (null without a balloon or a board). */
  memoryInfo(): {
    balloon: BalloonCounters;
    guest: BalloonGuestStats | null;
    releasesToHost: boolean;
    shareable: boolean;
  } | null {
    const b = this.balloon;
    if (b === null || this.current === null) return null;
    return {
      balloon: b.counters,
      guest: b.stats,
      releasesToHost: this.current.ram.releasesToHost,
      shareable: this.ramShareable,
    };
  }

  /** Snapshot the running board (the VM must be paused: call between run() calls or after stop()). */
  save(): SavedState {
    if (!this.current) throw new Error("nothing to save: the VM has not started");
    if (this.running) throw new Error("the VM is running: stop() and await run() before saving");
    return this.current.save();
  }

  /**
   * Make the paused VM's state complete for saving: wait for disk requests in flight (their
   * completions land in guest RAM and the used rings) and flush the disks, so the images on the host
   * hold everything the saved guest has written. `flush` false only drains: a snapshot inside the
   * images needs the requests landed, not yet on stable storage (it syncs after the guest resumed).
   */
  async quiesce(flush = true): Promise<void> {
    if (this.running) throw new Error("the VM is running: stop() and await run() before saving");
    for (const b of this.blocks) await b.drain();
    if (flush) for (const d of this.disks) await d.flush();
  }

  /** Restore a snapshot into a fresh board with this VM's specification; run() then continues it. */
  async restore(state: SavedState): Promise<void> {
    await this.restoreWith(async (m) => m.restore(state));
  }

  /**
   * Restore through `fill`, which gets a fresh, empty board of this VM's specification (disks opened,
   * images loaded for later reboots) and puts the saved state into it. The board is installed only
   * when `fill` succeeds; when it throws, the VM is left powered off (no board: run() would boot it
   * afresh), since the new board has already taken over the NIC and console backends.
   */
  async restoreWith(fill: (m: RiscvVirt) => Promise<void>): Promise<void> {
    if (this.running) throw new Error("the VM is running: stop() and await run() before restoring");
    await this.load();
    for (const n of this.nics) n.detach();
    this.current = null;
    const m = this.build(false);
    try {
      await fill(m);
    } catch (e) {
      for (const n of this.nics) n.detach();
      this.nics = [];
      this.blocks = [];
      throw e;
    }
    // The snapshot's balloon target stays the host's wish: a squeezed guest is not handed its memory back.
    this.balloonTarget = this.balloon?.counters.targetPages ?? 0;
    // The snapshot recorded the link as it was then; the cable is as it is now (a change interrupts).
    this.nics.forEach((n, i) => {
      n.setLinkUp(this.linkUp[i]);
    });
    this.current = m;
    this.stopRequested = false;
    this.boots = Math.max(this.boots, 1);
  }

  /** Resume after stop() (save/restore round trips pause the VM this way). */
  resume(): Promise<VmExit> {
    this.stopRequested = false;
    return this.run();
  }

  async close(): Promise<void> {
    // The embedder owns attached NIC backends and closes them; the VM closes the ones it opened.
    for (const n of this.nics) n.detach();
    this.nics = [];
    this.closeNics();
    for (const d of this.disks) await d.flush().catch(() => {});
    for (const d of this.disks) await d.close();
    this.disks = [];
  }
}
