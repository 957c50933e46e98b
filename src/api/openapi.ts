/** The OpenAPI 3.1 document of the /v1 API, built from the same schemas the daemon validates with. */
import type { TSchema } from "@sinclair/typebox";
import { ErrorBody, VmEvent } from "./messages.js";
import { OPERATIONS } from "./operations.js";

/** Plain JSON of a TypeBox schema (drops its symbol-keyed metadata). */
function json(schema: TSchema): unknown {
  return JSON.parse(JSON.stringify(schema));
}

/** Path parameters of an object schema as OpenAPI parameter objects. */
function pathParameters(schema: TSchema): unknown[] {
  const props = (schema as { properties?: Record<string, TSchema> }).properties ?? {};
  return Object.entries(props).map(([name, s]) => ({ name, in: "path", required: true, schema: json(s) }));
}

export function openApiDocument(version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const item: Record<string, unknown> = { operationId: op.operationId, summary: op.summary };
    if (op.params) item.parameters = pathParameters(op.params);
    if (op.body)
      item.requestBody = { required: true, content: { "application/json": { schema: json(op.body) } } };
    const responses: Record<string, unknown> = {};
    for (const [status, r] of Object.entries(op.responses)) {
      const res: Record<string, unknown> = { description: r.description };
      if (r.schema) res.content = { [r.contentType ?? "application/json"]: { schema: json(r.schema) } };
      else if (r.contentType) res.content = { [r.contentType]: { schema: { type: "string" } } };
      responses[status] = res;
    }
    // Everything may answer 401 on TCP endpoints (missing or wrong bearer token).
    responses["401"] = {
      description: "missing or wrong bearer token (TCP endpoints)",
      content: { "application/json": { schema: json(ErrorBody) } },
    };
    item.responses = responses;
    paths[op.path] ??= {};
    paths[op.path][op.method] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "tvisor daemon API",
      version,
      description:
        "Manage tvisor VMs. On the Unix socket, access is the socket's file permissions; on TCP, send " +
        "`Authorization: Bearer <token>` with the token from <state-dir>/token.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer" } },
      schemas: { ErrorBody: json(ErrorBody), VmEvent: json(VmEvent) },
    },
    security: [{ bearer: [] }, {}],
    paths,
  };
}
