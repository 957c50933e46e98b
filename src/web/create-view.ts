/**
 * The create-VM form. The daemon validates (the same TypeBox schema, then the VMM's cross-field checks);
 * its one error names the field (`body.memBytes`, `body.disks[0].path`), and the page shows the message
 * beside that field. Hints are the schema's descriptions.
 */
import type { VmDefinition } from "../api/vm-spec.js";
import { VmDefinition as VmDefinitionSchema } from "../api/vm-spec.js";
import { ApiCallError } from "./api-client.js";
import type { App } from "./app.js";
import { h } from "./dom.js";

const MIB = 1024 * 1024;

interface FieldSpec {
  id: string;
  /** The API field this input fills (matched against an error's `field`). */
  apiField: string;
  label: string;
  kind: "text" | "number" | "select" | "checkbox";
  options?: string[];
  /** Where the hint comes from, when not the field itself. */
  schemaKey?: string;
  hint?: string;
  value?: string;
}

type SchemaProps = Record<string, { description?: string }>;
const props = (VmDefinitionSchema as unknown as { properties: SchemaProps }).properties;

const FIELDS: FieldSpec[] = [
  { id: "vm-name", apiField: "body.name", label: "Name", kind: "text", schemaKey: "name" },
  {
    id: "vm-mem",
    apiField: "body.memBytes",
    label: "Memory (MiB)",
    kind: "number",
    value: "256",
    hint: "guest RAM; 16 MiB to 4 GiB",
  },
  { id: "vm-cpus", apiField: "body.cpus", label: "CPUs", kind: "number", value: "1", schemaKey: "cpus" },
  { id: "vm-kernel", apiField: "body.kernel", label: "Kernel path", kind: "text", schemaKey: "kernel" },
  { id: "vm-initrd", apiField: "body.initrd", label: "Initramfs path", kind: "text", schemaKey: "initrd" },
  {
    id: "vm-append",
    apiField: "body.append",
    label: "Kernel command line",
    kind: "text",
    schemaKey: "append",
  },
  {
    id: "vm-disk",
    apiField: "body.disks[0].path",
    label: "Disk image path",
    kind: "text",
    hint: "optional; an image file on the daemon's host",
  },
  {
    id: "vm-disk-format",
    apiField: "body.disks[0].format",
    label: "Disk format",
    kind: "select",
    options: ["probe", "raw", "qcow2"],
    hint: "probe: detected once now and recorded",
  },
  { id: "vm-disk-ro", apiField: "body.disks[0].readOnly", label: "Disk read-only", kind: "checkbox" },
  {
    id: "vm-console",
    apiField: "body.console",
    label: "Console device",
    kind: "select",
    options: ["uart", "virtio"],
    schemaKey: "console",
  },
  {
    id: "vm-jit",
    apiField: "body.jit",
    label: "JIT",
    kind: "select",
    options: ["off", "on", "always"],
    schemaKey: "jit",
  },
  { id: "vm-autostart", apiField: "body.autostart", label: "Start with the daemon", kind: "checkbox" },
];

export function createView(app: App): HTMLElement {
  document.title = "Create VM · tvisor";
  const inputs = new Map<string, HTMLInputElement | HTMLSelectElement>();
  const errors = new Map<string, HTMLElement>();
  const general = h("p", { class: "error", role: "alert", id: "create-error" });

  const fieldEls = FIELDS.map((f) => {
    const hintText = f.hint ?? (f.schemaKey ? props[f.schemaKey]?.description : undefined);
    const hintId = `${f.id}-hint`;
    const errId = `${f.id}-error`;
    const describedBy = hintText ? `${hintId} ${errId}` : errId;
    let input: HTMLInputElement | HTMLSelectElement;
    if (f.kind === "select")
      input = h(
        "select",
        { id: f.id, name: f.id, "aria-describedby": describedBy, "data-field": f.apiField },
        ...(f.options ?? []).map((o) => h("option", { value: o }, o)),
      );
    else
      input = h("input", {
        id: f.id,
        name: f.id,
        type: f.kind,
        value: f.value,
        "aria-describedby": describedBy,
        "data-field": f.apiField,
        step: f.kind === "number" ? "any" : undefined,
      });
    inputs.set(f.apiField, input);
    const err = h("p", { class: "field-error", id: errId });
    errors.set(f.apiField, err);
    const label = h("label", { for: f.id }, f.label);
    const hint = hintText ? h("span", { class: "hint", id: hintId }, hintText) : null;
    return f.kind === "checkbox"
      ? h("div", { class: "field" }, h("div", { class: "check" }, input, label), hint, err)
      : h("div", { class: "field" }, label, input, hint, err);
  });

  const clearErrors = () => {
    general.textContent = "";
    for (const [k, el] of errors) {
      el.textContent = "";
      inputs.get(k)?.removeAttribute("aria-invalid");
    }
  };

  /** The input an API field names: itself, else the first input inside it (body.disks[0] → its path). */
  const inputFor = (field: string): string | undefined => {
    if (inputs.has(field)) return field;
    for (const k of inputs.keys()) if (k.startsWith(`${field}.`) || k.startsWith(`${field}[`)) return k;
    return undefined;
  };

  const form = h(
    "form",
    { class: "stack", id: "create-form", "aria-labelledby": "create-title", novalidate: true },
    h("h1", { id: "create-title" }, "Create a VM"),
    ...fieldEls,
    general,
    h("div", {}, h("button", { type: "submit" }, "Create")),
  );
  const value = (field: string) => inputs.get(field)?.value.trim() ?? "";
  const checked = (field: string) => (inputs.get(field) as HTMLInputElement).checked;

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const def: Record<string, unknown> = { name: value("body.name") };
    // Numbers go as typed (MiB scaled to bytes): the API judges range, integer-ness and alignment.
    if (value("body.memBytes") !== "") def.memBytes = Number(value("body.memBytes")) * MIB;
    if (value("body.cpus") !== "") def.cpus = Number(value("body.cpus"));
    for (const k of ["kernel", "initrd", "append"]) {
      const v = value(`body.${k}`);
      if (v !== "") def[k] = v;
    }
    const disk = value("body.disks[0].path");
    if (disk !== "") {
      const d: Record<string, unknown> = { path: disk };
      const fmt = value("body.disks[0].format");
      if (fmt !== "probe") d.format = fmt;
      if (checked("body.disks[0].readOnly")) d.readOnly = true;
      def.disks = [d];
    }
    if (value("body.console") !== "uart") def.console = value("body.console");
    if (value("body.jit") !== "off") def.jit = value("body.jit");
    if (checked("body.autostart")) def.autostart = true;
    try {
      const vm = await app.api.define(def as VmDefinition);
      app.go(`#/vm/${encodeURIComponent(vm.name)}`);
    } catch (err) {
      const msg = app.fail(err);
      if (msg === null) return;
      const key = err instanceof ApiCallError && err.field ? inputFor(err.field) : undefined;
      if (key) {
        const input = inputs.get(key) as HTMLElement;
        (errors.get(key) as HTMLElement).textContent = msg;
        input.setAttribute("aria-invalid", "true");
        input.focus();
      } else general.textContent = msg;
    }
  });
  queueMicrotask(() => inputs.get("body.name")?.focus());
  return form;
}
