/** One virtual machine's lifecycle: configuration → host backends → riscv-virt board → run, reboot, stop, save. */
import { UserError } from "../base/errors.js";
import type { SavedState } from "../base/state.js";
import { VirtioBlock } from "../devices/virtio/block.js";
import { VirtioConsole } from "../devices/virtio/console.js";
import type { VirtioDevice } from "../devices/virtio/device.js";
import { VirtioNet } from "../devices/virtio/net.js";
import { VirtioRng } from "../devices/virtio/rng.js";
import type { BlockBackend } from "../io/block-backend.js";
import { flattenFirmware } from "../machine/firmware-image.js";
import { isGzip, type LinuxKernel, loadLinuxKernel } from "../machine/linux-image.js";
import { type MachineExit, RiscvVirt } from "../machine/riscv-virt.js";
import { VIRT_DRAM_BASE, VIRT_VIRTIO_COUNT } from "../machine/virt-memory-map.js";
import { checkVirtioSlots, DEFAULT_APPEND, nicMacs, type VmConfig } from "./vm-config.js";
import type { VmHost } from "./vm-host.js";

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

/** A Linux VM on the riscv-virt board. `bios: "none"` (bare programs) is handled by the CLI's bare runner. */
export class VirtualMachine {
  private images: LoadedImages | null = null;
  private disks: BlockBackend[] = [];
  /** MAC of each configured NIC, fixed for the VM's lifetime so reboots keep the guest's address. */
  private readonly macs: Uint8Array[];
  /** The current board's NICs, detached from their backends at close(). */
  private nics: VirtioNet[] = [];
  /** Each NIC's cable: plugged in or not. Host-side state, so it outlives reboots and restores. */
  private readonly linkUp: boolean[];
  private current: RiscvVirt | null = null;
  private stopRequested = false;
  /** Boots so far (1 + number of guest reboots). */
  boots = 0;
  /** Instructions retired over all boots. */
  private retiredBefore = 0;

  constructor(
    readonly config: VmConfig,
    private readonly host: VmHost,
  ) {
    if (config.bios === "none") throw new UserError("--bios none runs bare programs; use the bare runner");
    this.macs = nicMacs(config);
    this.linkUp = this.macs.map(() => true);
    // Each device takes one virtio-mmio slot of the board (QEMU virt has 8).
    checkVirtioSlots(config, VIRT_VIRTIO_COUNT);
  }

  /** The board currently running (null before start). */
  get machine(): RiscvVirt | null {
    return this.current;
  }

  get instret(): number {
    return this.retiredBefore + (this.current?.instret ?? 0);
  }

  /** Read kernel, initrd and firmware, and open the disks. Every user mistake becomes one UserError. */
  async prepare(): Promise<void> {
    const c = this.config;
    const images: LoadedImages = {};
    const external = c.bios !== "builtin";
    if (!c.kernel && !external) throw new UserError("no kernel: pass --kernel PATH");
    if (c.kernel)
      images.kernel = await loadLinuxKernel(await this.host.readFile(c.kernel, "kernel"), this.host.gunzip);
    if (c.initrd) {
      // The kernel unpacks gzip itself (CONFIG_RD_GZIP); the initramfs is passed through unchanged.
      images.initrd = await this.host.readFile(c.initrd, "initrd");
      if (images.initrd.length === 0) throw new UserError(`initrd: ${c.initrd} is empty`);
    }
    if (external) {
      images.firmware = await this.host.readFile(c.bios, "bios");
      if (isGzip(images.firmware)) images.firmware = await this.host.gunzip(images.firmware);
      // ELF firmware (fw_jump.elf) is flattened to the image QEMU would load; 2 MiB is the room below the kernel.
      images.firmware = flattenFirmware(images.firmware, VIRT_DRAM_BASE, 2 * 1024 * 1024);
    }
    this.images = images;
    for (const d of c.disks) {
      try {
        this.disks.push(await this.host.openDisk(d.path, { format: d.format, readOnly: d.readOnly }));
      } catch (e) {
        // Say which flag the error is about, as for --kernel and --initrd.
        if (e instanceof UserError) throw new UserError(`--disk: ${e.message}`);
        throw e;
      }
    }
    // Build the first board now: a memory too small for kernel and initrd fails here, and console input
    // that arrives before run() reaches the board that will run (not one thrown away).
    this.current = this.build();
    this.boots++;
  }

  /** Build a fresh board and load the images (used at power-on and at every guest reboot). */
  private build(): RiscvVirt {
    if (!this.images) throw new Error("prepare() first");
    // Slot order is disks, NICs, console, rng (virtioSlots): stable across boots, so guest device
    // names and snapshots match.
    const virtio: VirtioDevice[] = this.disks.map((backend) => new VirtioBlock({ backend }));
    // A fresh VirtioNet on the same backend re-registers as its receiver, replacing the old board's.
    this.nics = (this.config.nics ?? []).map(
      (nic, i) => new VirtioNet({ backend: nic.backend, mac: this.macs[i] }),
    );
    this.nics.forEach((n, i) => {
      n.setLinkUp(this.linkUp[i]);
    });
    virtio.push(...this.nics);
    // A fresh VirtioConsole registers itself as the backend's input receiver, replacing the old board's.
    if (this.config.virtioConsole) virtio.push(new VirtioConsole({ char: this.config.virtioConsole }));
    if (this.config.rng) virtio.push(new VirtioRng({ entropy: (b) => this.host.entropy(b) }));
    const m = new RiscvVirt({
      ramBytes: this.config.memBytes,
      harts: this.config.cpus,
      firmware: this.config.bios === "builtin" ? "builtin" : "external",
      clock: this.host.clock,
      console: this.host.console,
      virtio,
      random: (n) => {
        const b = new Uint8Array(n);
        this.host.entropy(b);
        return b;
      },
      log: (msg) => this.host.log(msg),
    });
    m.loadLinux({
      kernel: this.images.kernel,
      initrd: this.images.initrd,
      firmware: this.images.firmware,
      bootargs: this.config.append ?? DEFAULT_APPEND,
    });
    return m;
  }

  /** Power on and run until the guest powers off, fails, or stop() is called. Guest reboots start over. */
  async run(): Promise<VmExit> {
    if (!this.images) await this.prepare();
    for (;;) {
      if (this.current === null) {
        this.current = this.build();
        this.boots++;
      }
      if (this.stopRequested) return { kind: "stopped" };
      const exit: MachineExit = await this.current.run();
      if (exit.kind === "reset") {
        if (this.config.noReboot) return { kind: "reset" };
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
   * Plug NIC `nic` (in config order) in or out, like QEMU's set_link: the guest sees the carrier
   * change through VIRTIO_NET_S_LINK_UP and a configuration interrupt (virtio 1.2 §5.1.4), and
   * no frame passes while it is down.
   */
  setLinkUp(nic: number, up: boolean): void {
    if (!Number.isInteger(nic) || nic < 0 || nic >= this.linkUp.length)
      throw new UserError(`no NIC ${nic}: this VM has ${this.linkUp.length}`);
    this.linkUp[nic] = up;
    this.nics[nic]?.setLinkUp(up);
  }

  /** Snapshot the running board (the VM must be paused: call between run() calls or after stop()). */
  save(): SavedState {
    if (!this.current) throw new Error("nothing to save: the VM has not started");
    return this.current.save();
  }

  /** Restore a snapshot into a fresh board with this VM's configuration; run() then continues it. */
  async restore(state: SavedState): Promise<void> {
    if (!this.images) await this.prepare();
    const m = this.build();
    m.restore(state);
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
    // The embedder owns the NIC backends and closes them; the VM only stops listening on them.
    for (const n of this.nics) n.detach();
    this.nics = [];
    for (const d of this.disks) await d.flush().catch(() => {});
    for (const d of this.disks) await d.close();
    this.disks = [];
  }
}
