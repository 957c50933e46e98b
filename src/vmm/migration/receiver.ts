/**
 * The destination side of a live migration: a fresh VM of the source's definition is built empty (its
 * disks deferred), RAM messages are written as they come (a page may come many times; the last copy
 * wins), the machine state is collected, and at END the counts are checked, the disks opened and every
 * component restored (each checks its own state, as for a state file). Then `loaded` goes back; the
 * guest resumes only on COMMIT. Every message is untrusted: framing, checksum, order and bounds are
 * checked before anything is written, and any failure is a MigrationError (the caller discards the VM).
 *
 * With copied storage the disks are images this destination created (empty) and opened at once; DISK
 * messages are written into them as they come, and at END they are flushed (fsync) before `loaded`
 * goes back, so a destination that acknowledged has the disks durably.
 */
import type { SavedState } from "../../base/state.js";
import { decodeState } from "../state-file/codec.js";
import type { VirtualMachine } from "../vm.js";
import type { DeferredDisk } from "./deferred-disk.js";
import { MigrationError } from "./errors.js";
import type { MigrationInbox } from "./link.js";
import {
  applyRam,
  ComponentBlob,
  decodeDisk,
  decodeEnd,
  decodeMessage,
  type Hello,
  MSG_COMMIT,
  MSG_COMPONENT,
  MSG_DISK,
  MSG_END,
  MSG_HELLO,
  MSG_RAM,
  MSG_SYNC,
  messageName,
  PAGE_SIZE,
  parseHello,
} from "./protocol.js";

/** Read the HELLO, which must be the first message. */
export async function receiveHello(inbox: MigrationInbox): Promise<Hello> {
  const m = decodeMessage(await inbox.next());
  if (m.type !== MSG_HELLO) throw new MigrationError(`stream: expected hello, got ${messageName(m.type)}`);
  return parseHello(m.payload);
}

/**
 * Receive RAM, the machine state and END into `vm` (built from the HELLO's definition, not started),
 * open `disks`, and wait for COMMIT. Resolves with the VM ready to resume().
 */
export async function migrateIn(
  vm: VirtualMachine,
  hello: Hello,
  disks: readonly DeferredDisk[],
  inbox: MigrationInbox,
): Promise<void> {
  if (vm.spec.memBytes !== hello.ramBytes)
    throw new MigrationError(`hello: ramBytes ${hello.ramBytes} differs from the definition's memory`);
  await vm.restoreWith(async (board) => {
    const names = board.componentNames();
    if (names.join(",") !== hello.components.join(","))
      throw new MigrationError(
        `hello: components ${hello.components.join(",")} do not match this machine (${names.join(",")})`,
      );
    const ram = board.ram;
    const pages = ram.size / PAGE_SIZE;
    const blob = new ComponentBlob();
    let ramMessages = 0;
    let pagesIn = 0;
    let diskMessages = 0;
    const copied = hello.copyStorage === true;
    const sizes = hello.disks.map((d) => d.virtualSize);
    if (copied && disks.length !== sizes.length)
      throw new MigrationError(`hello: ${sizes.length} disks, the definition has ${disks.length}`);
    for (;;) {
      const m = decodeMessage(await inbox.next());
      if (m.type === MSG_RAM) {
        pagesIn += applyRam(m.payload, pages, (p, data) => {
          if (data === null) ram.fill(ram.base + p * PAGE_SIZE, PAGE_SIZE, 0);
          else ram.write(ram.base + p * PAGE_SIZE, data);
        });
        ramMessages++;
      } else if (m.type === MSG_DISK) {
        if (!copied) throw new MigrationError("stream: a disk message without copyStorage");
        const r = decodeDisk(m.payload, sizes);
        if (r.data === null) await disks[r.index].writeZeroes(r.offset, r.length);
        else await disks[r.index].write(r.offset, r.data);
        diskMessages++;
      } else if (m.type === MSG_SYNC) {
        inbox.reply({ t: "synced" });
      } else if (m.type === MSG_COMPONENT) {
        blob.add(m.payload);
      } else if (m.type === MSG_END) {
        const end = decodeEnd(m.payload);
        const state = blob.done();
        if (
          end.ramMessages !== ramMessages ||
          end.pages !== pagesIn ||
          end.componentBytes !== state.length ||
          end.diskMessages !== diskMessages
        )
          throw new MigrationError(
            `stream: end counts ${end.ramMessages}/${end.pages}/${end.componentBytes}/${end.diskMessages} but ${ramMessages}/${pagesIn}/${state.length}/${diskMessages} arrived`,
          );
        // The source has paused and flushed its disks: open them now (copied ones are open already
        // and get their last writes to stable storage before the source may let go).
        for (const d of disks) await d.activate();
        if (copied) for (const d of disks) await d.flush();
        const v = decodeState(state, "machine state");
        if (typeof v !== "object" || v === null || Array.isArray(v) || ArrayBuffer.isView(v))
          throw new MigrationError("stream: the machine state is not an object");
        const parts = new Map(Object.entries(v as Record<string, unknown>)) as Map<string, SavedState>;
        board.restoreComponents(parts);
        return;
      } else {
        throw new MigrationError(`stream: unexpected ${messageName(m.type)} message`);
      }
    }
  });
  inbox.reply({ t: "loaded" });
  const m = decodeMessage(await inbox.next());
  if (m.type !== MSG_COMMIT) throw new MigrationError(`stream: expected commit, got ${messageName(m.type)}`);
}
