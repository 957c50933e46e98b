/** One VM: state and actions, its console (xterm.js over the console WebSocket), plots, configuration. */
import type { VmInfo } from "../api/messages.js";
import { enabledIn, type VmAction, vmActions } from "./actions.js";
import { type App, every } from "./app.js";
import { h } from "./dom.js";
import { bytes, count, percent } from "./format.js";
import { makePlot } from "./plot.js";
import { history, record } from "./stats-history.js";
import { type ByteTerminal, openTerminal } from "./terminal.js";
import { stateBadge } from "./vm-list-view.js";

const REFRESH_MS = 1000;
const perSec = (f: (n: number) => string) => (n: number) => `${f(n)}/s`;

export function vmView(app: App, name: string): HTMLElement {
  document.title = `${name} · tvisor`;
  const badge = h("span", {});
  const reason = h("p", { class: "hint" });
  const status = h("p", { class: "status", role: "status", "aria-live": "polite" });
  const actionsBox = h("div", { class: "actions", role: "group", "aria-label": "VM actions" });
  const formBox = h("div", {});
  const termBox = h("div", { class: "term", id: "terminal" });
  const termNote = h("p", { class: "hint", id: "terminal-note" });
  const config = h("dl", { class: "config" });
  const plots = [
    makePlot({ id: "cpu", title: "CPU (host)", value: (s) => s.cpuPercent, format: percent, minTop: 5 }),
    makePlot({
      id: "ips",
      title: "Instructions",
      value: (s) => s.instructionsPerSec,
      format: perSec(count),
      minTop: 1e6,
    }),
    makePlot({
      id: "disk",
      title: "Disk",
      value: (s) => s.diskBytesPerSec,
      format: perSec(bytes),
      minTop: 4096,
    }),
    makePlot({
      id: "net",
      title: "Network",
      value: (s) => s.netBytesPerSec,
      format: perSec(bytes),
      minTop: 1024,
    }),
  ];

  const view = h(
    "section",
    { "data-vm": name },
    h("h1", {}, name, " ", badge),
    reason,
    actionsBox,
    formBox,
    status,
    h("h2", { id: "console-title" }, "Console"),
    h(
      "p",
      { class: "hint" },
      "Click the terminal to type. Copy: select, then Ctrl+Shift+C. Paste: Ctrl+Shift+V.",
    ),
    termBox,
    termNote,
    h("h2", {}, "Activity (last 5 minutes)"),
    h("div", { class: "plots" }, ...plots.map((p) => p.element)),
    h("h2", {}, "Configuration"),
    config,
  );
  termBox.setAttribute("aria-labelledby", "console-title");

  let info: VmInfo | null = null;
  let term: ByteTerminal | null = null;
  let ws: WebSocket | null = null;
  let wsFor = "";

  const connectConsole = (vm: VmInfo) => {
    const key = vm.startedAt ?? "";
    if (ws && wsFor === key) return;
    ws?.close();
    wsFor = key;
    if (!term)
      term = openTerminal(termBox, (b) => {
        if (ws?.readyState === WebSocket.OPEN) ws.send(b);
      });
    const sock = app.api.console(vm.name);
    ws = sock;
    sock.onopen = () => {
      termNote.textContent = "Connected.";
      termBox.dataset.connected = "true";
    };
    sock.onmessage = (e) => term?.write(new Uint8Array(e.data as ArrayBuffer));
    sock.onclose = (e) => {
      if (ws !== sock) return;
      ws = null;
      wsFor = "";
      termBox.dataset.connected = "false";
      termNote.textContent = `Console closed${e.reason ? `: ${e.reason}` : ""}.`;
    };
  };

  const runAction = async (a: VmAction, body?: Record<string, unknown>) => {
    status.textContent = `${a.verb}…`;
    try {
      const res = await app.api.operation<unknown>(
        a.op.method,
        a.op.path,
        name,
        body ?? (a.op.body ? {} : undefined),
      );
      status.textContent = `${a.verb}: done${describeResult(res)}`;
      formBox.replaceChildren();
      await refresh();
    } catch (e) {
      const msg = app.fail(e);
      if (msg !== null) status.textContent = `${a.verb}: ${msg}`;
    }
  };

  const actionForm = (a: VmAction) => {
    const inputs = a.fields.map((f) => {
      const id = `action-${a.verb}-${f.name}`;
      const input = h("input", {
        id,
        name: f.name,
        type: f.kind === "boolean" ? "checkbox" : f.kind === "string" ? "text" : "number",
        required: f.required,
      });
      return {
        f,
        input,
        el: h(
          "div",
          { class: "field" },
          h("label", { for: id }, `${f.name}${f.required ? "" : " (optional)"}`),
          input,
          f.description ? h("span", { class: "hint" }, f.description) : null,
        ),
      };
    });
    const form = h(
      "form",
      { class: "inline-form", "aria-label": `${a.verb} options` },
      ...inputs.map((i) => i.el),
      h("button", { type: "submit" }, a.verb),
      h("button", { type: "button", class: "secondary", onclick: () => formBox.replaceChildren() }, "Cancel"),
    );
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const body: Record<string, unknown> = {};
      for (const { f, input } of inputs) {
        if (f.kind === "boolean") body[f.name] = input.checked;
        else if (input.value !== "") body[f.name] = f.kind === "string" ? input.value : Number(input.value);
      }
      void runAction(a, body);
    });
    formBox.replaceChildren(form);
    inputs[0]?.input.focus();
  };

  const actions = vmActions();
  const buttons = actions.map((a) =>
    h(
      "button",
      {
        type: "button",
        "data-action": a.verb,
        title: a.summary,
        class: a.verb === "kill" ? "secondary" : undefined,
        onclick: () => (a.fields.length > 0 ? actionForm(a) : void runAction(a)),
      },
      a.verb[0].toUpperCase() + a.verb.slice(1),
    ),
  );
  const deleteButton = h(
    "button",
    {
      type: "button",
      class: "secondary",
      "data-action": "delete",
      onclick: async () => {
        if (!confirm(`Delete VM ${name}? Its disks are left alone.`)) return;
        try {
          await app.api.remove(name);
          app.go("#/");
        } catch (e) {
          const msg = app.fail(e);
          if (msg !== null) status.textContent = `delete: ${msg}`;
        }
      },
    },
    "Delete",
  );
  actionsBox.append(...buttons, deleteButton);

  const showConfig = (vm: VmInfo) => {
    const rows: HTMLElement[] = [];
    for (const [k, v] of Object.entries(vm.definition)) {
      if (k === "name") continue;
      rows.push(h("dt", {}, k), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v)));
    }
    for (const n of vm.notes ?? []) rows.push(h("dt", {}, "note"), h("dd", {}, n));
    config.replaceChildren(...rows);
  };

  async function refresh(): Promise<void> {
    try {
      const vm = await app.api.inspect(name);
      if (app.signal.aborted) return;
      const changed = JSON.stringify(vm) !== JSON.stringify(info);
      info = vm;
      if (changed) {
        badge.replaceChildren(stateBadge(vm.state));
        view.dataset.state = vm.state;
        reason.textContent = vm.reason ? `Last stop: ${vm.reason}` : "";
        actions.forEach((a, i) => {
          buttons[i].disabled = !enabledIn(a.verb, vm.state);
        });
        deleteButton.disabled = vm.state === "running" || vm.state === "paused";
        showConfig(vm);
      }
      const live = vm.state === "running" || vm.state === "paused";
      if (live) {
        connectConsole(vm);
        record(await app.api.stats(name));
      } else if (!ws) termNote.textContent = "The console is there while the VM runs.";
      const samples = history(name);
      for (const p of plots) p.update(samples);
    } catch (e) {
      const msg = app.fail(e);
      if (msg !== null) status.textContent = msg;
    }
  }

  every(REFRESH_MS, app.signal, refresh);
  app.signal.addEventListener("abort", () => {
    ws?.close();
    term?.dispose();
  });
  return view;
}

function describeResult(res: unknown): string {
  if (res && typeof res === "object" && "file" in res && "bytes" in res)
    return ` (${String((res as { file: string }).file)}, ${bytes(Number((res as { bytes: number }).bytes))})`;
  return "";
}
