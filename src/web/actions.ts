/**
 * The VM actions the page offers, read from the API's operation table: every POST /v1/vms/{name}/VERB
 * becomes a button, so an action the daemon gains (snapshot, revert, clone, ...) shows up without a change
 * here. A body with required fields gets a small form built from its schema's properties.
 */
import type { VmState } from "../api/messages.js";
import { OPERATIONS, type Operation } from "../api/operations.js";

export interface BodyField {
  name: string;
  description: string;
  required: boolean;
  kind: "string" | "number" | "integer" | "boolean";
}

export interface VmAction {
  verb: string;
  op: Operation;
  summary: string;
  /** Fields the user fills before the call (required ones, and all of them when some are required). */
  fields: BodyField[];
}

interface SchemaLike {
  type?: string;
  description?: string;
  properties?: Record<string, SchemaLike>;
  required?: string[];
}

const ACTION_PATH = /^\/v1\/vms\/\{name\}\/([a-z][a-zA-Z-]*)$/;

/** The states in which the daemon accepts the lifecycle verbs (docs/architecture.md, "Lifecycle"). */
const ENABLED_IN: Record<string, VmState[]> = {
  start: ["defined", "stopped", "crashed"],
  stop: ["running", "paused"],
  kill: ["running", "paused"],
  pause: ["running"],
  resume: ["paused"],
  save: ["running", "paused"],
};

/** Order of the familiar ones; others follow in table order. */
const ORDER = ["start", "stop", "kill", "pause", "resume", "save"];

export function vmActions(ops: Operation[] = OPERATIONS): VmAction[] {
  const out: VmAction[] = [];
  for (const op of ops) {
    if (op.method !== "post" || op.websocket) continue;
    const m = ACTION_PATH.exec(op.path);
    if (!m) continue;
    const body = op.body as SchemaLike | undefined;
    const required = body?.required ?? [];
    const fields: BodyField[] = [];
    if (body?.properties && required.length > 0) {
      for (const [name, s] of Object.entries(body.properties)) {
        const t = s.type;
        fields.push({
          name,
          description: s.description ?? "",
          required: required.includes(name),
          kind: t === "number" || t === "integer" || t === "boolean" ? t : "string",
        });
      }
    }
    out.push({ verb: m[1], op, summary: op.summary, fields });
  }
  const rank = (v: string) => (ORDER.includes(v) ? ORDER.indexOf(v) : ORDER.length);
  return out.sort((a, b) => rank(a.verb) - rank(b.verb));
}

/** Whether the button is enabled; verbs this page does not know are left to the daemon to judge. */
export function enabledIn(verb: string, state: VmState): boolean {
  const states = ENABLED_IN[verb];
  return states === undefined || states.includes(state);
}
