/**
 * GET /v1/migrations/incoming: the destination's end of a live migration (docs/migration.md). The first
 * message (HELLO) carries the VM definition, which is validated as a define request would be; the VM is
 * defined in state `incoming`, its process forked, and every message relayed to that process, which
 * replies through this socket. Flow control: the socket is paused while more than RELAY_HIGH messages
 * wait in the process. If the stream breaks, the process fails or the socket closes before the commit,
 * the process is killed and the definition removed: the destination keeps nothing. With copied storage
 * (HELLO `copyStorage`) the daemon first creates the VM's images under its state dir (migration-disks.ts)
 * and defines the VM on those; a failure removes them too, after the process that wrote them is gone.
 */
import { Value } from "@sinclair/typebox/value";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { WebSocket } from "ws";
import type { Operation } from "../api/operations.js";
import { VmDefinition } from "../api/vm-spec.js";
import { errorMessage } from "../base/errors.js";
import { MigrationError } from "../vmm/migration/errors.js";
import { decodeMessage, MAX_MESSAGE_BYTES, MSG_HELLO, parseHello } from "../vmm/migration/protocol.js";
import type { Daemon } from "./daemon.js";
import type { ManagedVm } from "./managed-vm.js";
import type { PlacedDisks } from "./migration-disks.js";
import type { FromVm } from "./vm-ipc.js";

/** Relayed messages not yet consumed by the VM process before the socket is paused, and resumed. */
const RELAY_HIGH = 64;
const RELAY_LOW = 16;

function bytesOf(data: Buffer | ArrayBuffer | Buffer[]): Uint8Array {
  const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export function registerMigrationIncoming(app: FastifyInstance, daemon: Daemon, op: Operation): void {
  app.get(op.path, { websocket: true }, (socket: WebSocket, _req: FastifyRequest) => {
    let vm: ManagedVm | null = null;
    let placed: PlacedDisks | null = null;
    let committed = false;
    let failed = false;
    let relayed = 0;
    let acked = 0;
    let paused = false;
    const early: Uint8Array[] = [];

    const fail = (why: string) => {
      if (failed || committed) return;
      failed = true;
      if (socket.readyState === socket.OPEN) {
        socket.send(JSON.stringify({ t: "error", error: why }));
        socket.close(1011, why.slice(0, 120));
      }
      const gone = vm ? daemon.abandonIncoming(vm, why) : Promise.resolve();
      // The copied disks go once the process writing them has been killed.
      void gone.catch(() => {}).finally(() => placed?.remove());
    };

    const relay = (m: FromVm) => {
      if (m.t === "migReply") {
        if (socket.readyState === socket.OPEN) socket.send(m.text);
      } else if (m.t === "migAck") {
        acked = m.n;
        if (paused && relayed - acked <= RELAY_LOW) {
          paused = false;
          socket.resume();
        }
      } else if (m.t === "migrated") {
        committed = true;
        void placed?.keep();
      }
    };

    const forward = (data: Uint8Array) => {
      if (!vm) return;
      vm.migrationIn(data);
      relayed++;
      if (!paused && relayed - acked > RELAY_HIGH) {
        paused = true;
        socket.pause();
      }
    };

    const begin = async (first: Uint8Array) => {
      const m = decodeMessage(first);
      if (m.type !== MSG_HELLO) throw new MigrationError("stream: the first message must be hello");
      const hello = parseHello(m.payload);
      const def: unknown = { ...(hello.definition as object), name: hello.name };
      if (!Value.Check(VmDefinition, def)) {
        const e = Value.Errors(VmDefinition, def).First();
        throw new MigrationError(
          `hello: definition${e ? `${e.path.replace(/\//g, ".")}: ${e.message}` : " is invalid"}`,
        );
      }
      if (hello.copyStorage) {
        const d = def as VmDefinition;
        const disks = d.disks ?? [];
        if (disks.length !== hello.disks.length)
          throw new MigrationError(`hello: ${hello.disks.length} disks, the definition has ${disks.length}`);
        const made = await daemon.placeIncomingDisks(d.name, hello.disks);
        if (failed) {
          // The source went away while the images were made: fail() has run without knowing them.
          await made.remove();
          return;
        }
        placed = made;
        const paths = made.paths;
        d.disks = disks.map((x, i) => ({
          ...x,
          path: paths[i],
          format: hello.disks[i].format as "raw" | "qcow2",
        }));
      }
      try {
        vm = await daemon.acceptIncoming(def as VmDefinition, relay);
      } catch (e) {
        // Nothing runs on the images yet: they go now (fail() would not know them once thrown past).
        await placed?.remove();
        placed = null;
        throw e;
      }
      if (failed) {
        // fail() ran while the VM was being defined and could not end it: end it now.
        await daemon.abandonIncoming(vm, "the source went away").catch(() => {});
        await placed?.remove();
        return;
      }
      // The process is there: HELLO first, then what arrived meanwhile.
      forward(first);
      for (const d of early.splice(0)) forward(d);
      // A process that dies (a bad stream it found, a crash) ends the migration here.
      const watch = setInterval(() => {
        if (vm && !vm.active && !committed) {
          clearInterval(watch);
          fail(`the VM process ended: ${vm.reason ?? "unknown"}`);
        }
        if (committed || failed) clearInterval(watch);
      }, 200);
      watch.unref();
    };

    let started: Promise<void> | null = null;
    socket.on("message", (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => {
      if (failed) return;
      const bytes = bytesOf(data);
      if (!isBinary || bytes.length > MAX_MESSAGE_BYTES) return fail("stream: not a migration message");
      if (started === null) {
        started = begin(bytes).catch((e) => fail(errorMessage(e)));
        return;
      }
      if (vm === null) {
        // Until the process is up (the daemon is still defining the VM), keep a bounded backlog.
        if (early.length >= RELAY_HIGH) return fail("stream: the source did not wait for accepted");
        early.push(bytes);
        return;
      }
      forward(bytes);
    });
    socket.on("close", () => fail("the source closed the connection"));
    socket.on("error", (e) => fail(`connection: ${errorMessage(e)}`));
  });
}
