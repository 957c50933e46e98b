/**
 * Live migration inside a VM process: the source runs the VMM's pre-copy sender over a WebSocket to the
 * destination daemon; the destination's process gets the stream relayed by its daemon over IPC
 * (`migIn` messages, acknowledged in batches so the relay never buffers without bound) and builds the VM
 * with its disks deferred until the source has stopped and flushed them, or, with copied storage, opens
 * the empty images its daemon created for them at once and fills them from the stream.
 */
import type { VmDefinition } from "../api/vm-spec.js";
import type { TrackedDisk } from "../storage/tracked-disk.js";
import type { NetBackend, VmHost } from "../vmm/host-contracts.js";
import { DeferredDisk } from "../vmm/migration/deferred-disk.js";
import { MigrationError } from "../vmm/migration/errors.js";
import type { MigrationInbox } from "../vmm/migration/link.js";
import type { Hello, Reply } from "../vmm/migration/protocol.js";
import { migrateIn, receiveHello } from "../vmm/migration/receiver.js";
import { type GuestControl, type MigrationReport, migrateOut } from "../vmm/migration/sender.js";
import { VirtualMachine } from "../vmm/vm.js";
import { connectMigrationLink } from "./migration-link.js";
import { vmSpecOf } from "./vm-config-of.js";

/** Messages consumed between acknowledgements to the relaying daemon. */
export const MIGRATION_ACK_EVERY = 16;
/** Most relayed messages queued in the VM process (the daemon pauses its socket well before this). */
const MAX_QUEUED = 1024;

/** Migrate `vm` (running) to the daemon at `url`; resolves with the report once the destination runs it. */
export async function migrateVmOut(
  vm: VirtualMachine,
  guest: GuestControl,
  def: VmDefinition,
  url: string,
  token: string,
  maxDowntimeMs: number,
  log: (m: string) => void,
  copyStorage?: readonly TrackedDisk[],
): Promise<MigrationReport> {
  const link = await connectMigrationLink(url, token);
  return migrateOut(vm, guest, link, {
    name: def.name,
    definition: def,
    maxDowntimeMs,
    log,
    ...(copyStorage ? { copyStorage } : {}),
  });
}

/** The destination's inbox: relayed messages in, replies out through `send`. */
export class RelayInbox implements MigrationInbox {
  private readonly queue: Uint8Array[] = [];
  private waiter: { resolve(d: Uint8Array): void; reject(e: Error): void } | null = null;
  private failure: Error | null = null;
  private consumed = 0;

  constructor(
    private readonly sendReply: (text: string) => void,
    private readonly ack: (n: number) => void,
  ) {}

  push(data: Uint8Array): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      this.taken();
      w.resolve(data);
      return;
    }
    if (this.queue.length >= MAX_QUEUED) {
      this.fail(new MigrationError("the relay sent more than it was allowed to queue"));
      return;
    }
    this.queue.push(data);
  }

  fail(e: Error): void {
    this.failure ??= e;
    this.waiter?.reject(this.failure);
    this.waiter = null;
  }

  private taken(): void {
    this.consumed++;
    if (this.consumed % MIGRATION_ACK_EVERY === 0) this.ack(this.consumed);
  }

  next(): Promise<Uint8Array> {
    const d = this.queue.shift();
    if (d) {
      this.taken();
      return Promise.resolve(d);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  reply(r: Reply): void {
    this.sendReply(JSON.stringify(r));
  }
}

/**
 * Receive a migration into a new VM of `def`: read HELLO, build the VM with deferred disks, take RAM and
 * state, wait for COMMIT. Resolves with the VM, paused and ready to resume().
 */
export async function migrateVmIn(
  def: VmDefinition,
  vmIndex: number,
  host: VmHost,
  nics: (NetBackend | undefined)[],
  inbox: RelayInbox,
): Promise<VirtualMachine> {
  const hello: Hello = await receiveHello(inbox);
  const deferred: DeferredDisk[] = [];
  const open = host.openDisk;
  host.openDisk = async (path, opts) => {
    const i = deferred.length;
    const d = hello.disks[i];
    // Copied disks are at paths this daemon chose (migration-disks.ts); shared ones at the source's.
    if (d === undefined || (!hello.copyStorage && d.path !== path))
      throw new MigrationError(`hello: disk ${i} (${path}) is not the source's`);
    // A copied disk is written by the stream, so it opens writable even when the guest sees it read-only
    // (DeferredDisk reports the definition's readOnly to the device).
    const how = hello.copyStorage ? { ...opts, readOnly: false } : opts;
    const disk = new DeferredDisk(path, d.format, d.virtualSize, opts.readOnly, () => open(path, how));
    deferred.push(disk);
    if (hello.copyStorage) await disk.activate();
    return disk;
  };
  const vm = new VirtualMachine(vmSpecOf(def, vmIndex), host, { nics });
  try {
    inbox.reply({ t: "accepted" });
    await migrateIn(vm, hello, deferred, inbox);
  } catch (e) {
    await vm.close().catch(() => {});
    throw e;
  }
  return vm;
}
