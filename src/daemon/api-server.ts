/** The HTTP API (/v1) over one endpoint: Fastify routes from the api/ operation table, WebSocket consoles, SSE events. */
/*
 * Validation is Fastify's Ajv over the TypeBox schemas in src/api (the same objects the OpenAPI document
 * is built from), configured strictly: no type coercion, no defaults injected, no silently removed
 * unknown fields. Every error is one JSON line `{ error, field? }` naming the VM or the request field.
 */
import fastifyWebsocket from "@fastify/websocket";
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import type { WebSocket } from "ws";
import { bearerFromProtocols, CONSOLE_PROTOCOL } from "../api/console-protocol.js";
import type {
  BalloonRequest,
  CpuRequest,
  RestoreRequest,
  SaveRequest,
  StopRequest,
  SwitchCreateRequest,
  VmEvent,
} from "../api/messages.js";
import type { MigrateRequest } from "../api/migration.js";
import { openApiDocument } from "../api/openapi.js";
import { OPERATIONS, type Operation } from "../api/operations.js";
import type { CloneRequest, SnapshotCreateRequest, SnapshotParams } from "../api/snapshots.js";
import type { VmDefinition, VmUpdate } from "../api/vm-spec.js";
import { ApiError } from "./api-error.js";
import type { ConsoleViewer } from "./console-hub.js";
import type { Daemon } from "./daemon.js";
import { prometheusText } from "./metrics.js";
import { registerMigrationIncoming } from "./migration-incoming.js";
import { tokenMatches } from "./token.js";
import { isPublicAsset, registerWebAssets } from "./web-assets.js";

/** Largest request body (a VM definition is far smaller). */
const BODY_LIMIT = 64 * 1024;
/** Largest console input message from a viewer. */
const CONSOLE_MAX_PAYLOAD = 64 * 1024;
/** An event-stream client that stops reading is dropped past this much unsent data. */
const SSE_MAX_QUEUED = 256 * 1024;

export interface ApiServerOptions {
  /** TCP endpoints require `Authorization: Bearer <token>`; the Unix socket relies on its file mode. */
  token: string | null;
  version: string;
}

type Params = { name: string };
type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown> | unknown;

/** "/v1/vms/{name}" → "/v1/vms/:name". */
function routePath(p: string): string {
  return p.replace(/\{(\w+)\}/g, ":$1");
}

/** Ajv's instancePath "/disks/0/format" → "disks[0].format". */
function fieldPath(instancePath: string): string {
  return instancePath
    .split("/")
    .filter((s) => s !== "")
    .map((s, i) => (/^\d+$/.test(s) ? `[${s}]` : i === 0 ? s : `.${s}`))
    .join("");
}

interface AjvIssue {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** One line for the first validation problem: "body.memBytes: must be <= 4294967296". */
function describeValidation(issues: AjvIssue[], context: string): { field: string; error: string } {
  const v = issues[0];
  let field = fieldPath(v.instancePath);
  let message = v.message ?? "is invalid";
  if (v.keyword === "additionalProperties") {
    const extra = String(v.params.additionalProperty);
    field = field ? `${field}.${extra}` : extra;
    message = "unknown field";
  } else if (v.keyword === "required") {
    const missing = String(v.params.missingProperty);
    field = field ? `${field}.${missing}` : missing;
    message = "is required";
  } else if (v.keyword === "anyOf" || v.keyword === "const") {
    message = "is not one of the allowed values";
  }
  const full = field ? `${context}.${field}` : context;
  return { field: full, error: `${full}: ${message}` };
}

export async function buildApiServer(daemon: Daemon, opts: ApiServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false },
    },
    // Path parameters are validated by schema; no surprising trailing-slash or case folding.
    routerOptions: { ignoreTrailingSlash: false },
  });
  await app.register(fastifyWebsocket, {
    options: {
      maxPayload: CONSOLE_MAX_PAYLOAD,
      // A browser offers the console protocol beside the one carrying its token; answer with the former.
      handleProtocols: (offered: Set<string>) => (offered.has(CONSOLE_PROTOCOL) ? CONSOLE_PROTOCOL : false),
    },
  });

  if (opts.token !== null) {
    const token = opts.token;
    app.addHook("onRequest", async (req, reply) => {
      if (isPublicAsset(req.url)) return;
      const h = req.headers.authorization;
      const given =
        typeof h === "string" && h.startsWith("Bearer ")
          ? h.slice(7).trim()
          : req.headers.upgrade?.toLowerCase() === "websocket"
            ? bearerFromProtocols(req.headers["sec-websocket-protocol"])
            : null;
      if (given === null || !tokenMatches(given, token)) {
        reply.header("www-authenticate", 'Bearer realm="tvisor"');
        return reply
          .code(401)
          .send({ error: given === null ? "missing bearer token" : "wrong bearer token" });
      }
    });
  }

  app.setErrorHandler((err: FastifyError, _req, reply) => {
    if (err instanceof ApiError) {
      const body: { error: string; field?: string } = { error: err.message };
      if (err.field) body.field = err.field;
      return reply.code(err.status).send(body);
    }
    if (err.validation) {
      const d = describeValidation(err.validation as AjvIssue[], err.validationContext ?? "body");
      return reply.code(400).send(d);
    }
    if (err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError)
      return reply.code(400).send({ error: `malformed JSON body: ${err.message}`, field: "body" });
    if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY")
      return reply.code(400).send({ error: "body: a JSON object is required", field: "body" });
    if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE")
      return reply.code(413).send({ error: `body larger than ${BODY_LIMIT} bytes` });
    if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE")
      return reply.code(415).send({ error: "send the body as application/json" });
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    return reply
      .code(status)
      .send({ error: status === 500 ? `internal error: ${err.message}` : err.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url.split("?")[0]}` }),
  );

  registerWebAssets(app);

  const doc = openApiDocument(opts.version);
  const name = (req: FastifyRequest) => (req.params as Params).name;
  const handlers: Record<string, Handler> = {
    listVms: () => ({ vms: daemon.list() }),
    listSwitches: () => ({ switches: daemon.switches() }),
    createSwitch: async (req, reply) =>
      reply.code(201).send(await daemon.createSwitch(req.body as SwitchCreateRequest)),
    defineVm: async (req, reply) => reply.code(201).send(await daemon.define(req.body as VmDefinition)),
    inspectVm: (req) => daemon.inspect(name(req)),
    updateVm: (req) => daemon.update(name(req), req.body as VmUpdate),
    deleteVm: async (req, reply) => {
      await daemon.remove(name(req));
      return reply.code(204).send();
    },
    startVm: (req) => daemon.start(name(req)),
    stopVm: (req) => daemon.stop(name(req), (req.body as StopRequest | undefined)?.timeoutSec),
    killVm: (req) => daemon.kill(name(req)),
    pauseVm: (req) => daemon.pause(name(req)),
    resumeVm: (req) => daemon.resume(name(req)),
    cpuVm: (req) => daemon.setCpu(name(req), req.body as CpuRequest),
    balloonVm: (req) => daemon.balloon(name(req), (req.body as BalloonRequest).targetBytes),
    saveVm: (req) => daemon.save(name(req), (req.body as SaveRequest).file),
    migrateVm: (req) => daemon.migrate(name(req), req.body as MigrateRequest),
    restoreVm: (req) => {
      const b = req.body as RestoreRequest;
      return daemon.restore(b.file, b.name);
    },
    listSnapshots: (req) => daemon.listSnapshots(name(req)),
    createSnapshot: async (req, reply) =>
      reply.code(201).send(await daemon.createSnapshot(name(req), (req.body as SnapshotCreateRequest).name)),
    revertSnapshot: (req) => daemon.revertSnapshot(name(req), (req.params as SnapshotParams).snapshot),
    deleteSnapshot: (req) => daemon.deleteSnapshot(name(req), (req.params as SnapshotParams).snapshot),
    cloneVm: async (req, reply) =>
      reply.code(201).send(await daemon.clone(name(req), req.body as CloneRequest)),
    vmStats: (req) => daemon.stats(name(req)),
    events: (req, reply) => serveEvents(daemon, req, reply),
    openapi: () => doc,
    metrics: (_req, reply) => reply.type("text/plain; version=0.0.4").send(prometheusText(daemon.allStats())),
  };

  for (const op of OPERATIONS) {
    if (op.websocket) {
      if (op.operationId === "migrateIncoming") registerMigrationIncoming(app, daemon, op);
      else registerConsole(app, daemon, op);
      continue;
    }
    const handler = handlers[op.operationId];
    if (!handler) throw new Error(`no handler for ${op.operationId}`);
    const schema: Record<string, unknown> = {};
    if (op.params) schema.params = op.params;
    if (op.body) schema.body = op.body;
    // An action whose body has no required field may be sent without one (`curl -X POST .../stop`).
    const optionalBody = op.body !== undefined && !(op.body as { required?: string[] }).required?.length;
    app.route({
      method: op.method.toUpperCase() as "GET",
      url: routePath(op.path),
      schema,
      preValidation: async (req) => {
        if (optionalBody && req.body === undefined) req.body = {};
      },
      handler,
    });
  }
  return app;
}

/** GET /v1/vms/{name}/console: a WebSocket per viewer; binary frames both ways. */
function registerConsole(app: FastifyInstance, daemon: Daemon, op: Operation): void {
  app.get(
    routePath(op.path),
    {
      websocket: true,
      schema: op.params ? { params: op.params } : {},
      // Refuse before the upgrade, so a client sees a plain 404/409.
      preHandler: async (req: FastifyRequest) => {
        const vm = daemon.consoleOf((req.params as Params).name);
        if (!vm.active)
          throw new ApiError(409, `VM "${vm.name}" is ${vm.state}; its console is there while it runs`);
      },
    },
    (socket: WebSocket, req: FastifyRequest) => {
      const vm = daemon.consoleOf((req.params as Params).name);
      const viewer: ConsoleViewer = {
        send: (data) => socket.send(data, { binary: true }),
        queuedBytes: () => socket.bufferedAmount,
        close: (reason) => socket.close(1011, reason.slice(0, 120)),
      };
      vm.console.attach(viewer);
      socket.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
        vm.input(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      });
      socket.on("close", () => vm.console.detach(viewer));
      socket.on("error", () => vm.console.detach(viewer));
    },
  );
}

/** GET /v1/events: server-sent events, one `data:` line per VmEvent. */
function serveEvents(daemon: Daemon, req: FastifyRequest, reply: FastifyReply): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  res.write(": tvisor events\n\n");
  const listener = (e: VmEvent) => {
    if (res.writableLength > SSE_MAX_QUEUED) {
      res.destroy();
      return;
    }
    res.write(`event: ${e.kind}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  daemon.on("event", listener);
  const stop = () => daemon.off("event", listener);
  req.raw.on("close", stop);
  res.on("close", stop);
}
