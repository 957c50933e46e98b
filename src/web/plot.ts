/** A small SVG line plot of one series over the kept history (no chart library: one polyline is enough). */
import { h, svg } from "./dom.js";
import type { Sample } from "./stats-history.js";

export interface PlotSpec {
  id: string;
  title: string;
  value: (s: Sample) => number;
  format: (n: number) => string;
  /** The y axis never shrinks below this (so an idle VM's noise does not fill the plot). */
  minTop: number;
}

export interface Plot {
  element: HTMLElement;
  update(samples: Sample[]): void;
}

const W = 300;
const H = 90;

export function makePlot(spec: PlotSpec): Plot {
  const line = svg("polyline", { points: "" });
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img" });
  const label = svg("title");
  chart.append(label, line);
  const latest = h("span", { class: "latest" }, "–");
  const top = h("span", { class: "plot-max" }, "");
  const element = h(
    "figure",
    { class: "plot", id: `plot-${spec.id}`, "data-points": 0 },
    h("figcaption", {}, h("span", {}, spec.title, " ", top), latest),
  );
  element.append(chart);
  return {
    element,
    update(samples) {
      element.dataset.points = String(samples.length);
      if (samples.length === 0) return;
      const values = samples.map(spec.value);
      const max = Math.max(spec.minTop, ...values);
      const t0 = samples[0].t;
      const span = Math.max(1, samples[samples.length - 1].t - t0);
      line.setAttribute(
        "points",
        values
          .map(
            (v, i) =>
              `${(((samples[i].t - t0) / span) * W).toFixed(1)},${(H - (v / max) * (H - 2)).toFixed(1)}`,
          )
          .join(" "),
      );
      const now = spec.format(values[values.length - 1]);
      latest.textContent = now;
      top.textContent = `(max ${spec.format(max)})`;
      label.textContent = `${spec.title}: now ${now}, over the last ${Math.round(span / 1000)} s`;
      element.dataset.last = String(values[values.length - 1]);
    },
  };
}
