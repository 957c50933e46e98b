/** The VM list: name, state and live CPU/memory figures, refreshed every second and on each event. */
import type { VmInfo, VmStats } from "../api/messages.js";
import { type App, every } from "./app.js";
import { h } from "./dom.js";
import { bytes, count, percent } from "./format.js";
import { record } from "./stats-history.js";

const REFRESH_MS = 1000;

export function stateBadge(state: string): HTMLElement {
  return h("span", { class: `state state-${state}`, "data-state": state }, state);
}

export function vmListView(app: App): HTMLElement {
  document.title = "VMs · tvisor";
  const status = h("p", { class: "status", role: "status" });
  const body = h("tbody");
  const table = h(
    "table",
    { class: "vms", "aria-describedby": "vms-title" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, "Name"),
        h("th", { scope: "col" }, "State"),
        h("th", { scope: "col", class: "num" }, "CPU"),
        h("th", { scope: "col", class: "num hide-narrow" }, "Instructions/s"),
        h("th", { scope: "col", class: "num" }, "Memory"),
      ),
    ),
    body,
  );
  const view = h(
    "section",
    {},
    h("h1", { id: "vms-title" }, "Virtual machines"),
    h("p", {}, h("a", { href: "#/create", class: "button" }, "Create VM")),
    table,
    status,
  );

  const row = (vm: VmInfo, s: VmStats | undefined) =>
    h(
      "tr",
      { "data-vm": vm.name },
      h("th", { scope: "row" }, h("a", { href: `#/vm/${encodeURIComponent(vm.name)}` }, vm.name)),
      h("td", {}, stateBadge(vm.state)),
      h("td", { class: "num" }, s ? percent(s.hostCpuPercent) : "–"),
      h("td", { class: "num hide-narrow" }, s ? count(s.instructionsPerSec) : "–"),
      h(
        "td",
        { class: "num" },
        s ? `${bytes(s.rssBytes)} / ${bytes(s.guestRamBytes)}` : bytes(vm.definition.memBytes ?? 0),
      ),
    );

  const refresh = async () => {
    try {
      const { vms } = await app.api.listVms();
      const stats = await Promise.all(
        vms.map((vm) =>
          vm.state === "running" || vm.state === "paused"
            ? app.api.stats(vm.name).then(
                (s) => {
                  record(s);
                  return s;
                },
                () => undefined,
              )
            : undefined,
        ),
      );
      if (app.signal.aborted) return;
      body.replaceChildren(...vms.map((vm, i) => row(vm, stats[i])));
      status.textContent = vms.length === 0 ? "No VMs yet." : "";
    } catch (e) {
      const msg = app.fail(e);
      if (msg !== null) status.textContent = msg;
    }
  };
  every(REFRESH_MS, app.signal, refresh);
  app.api.events(() => void refresh(), app.signal).catch(() => {});
  return view;
}
