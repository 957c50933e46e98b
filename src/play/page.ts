/**
 * The in-tab VM page (`/play`, or `tvisor web --standalone DIR`): fetches the bundled guest next to the
 * page, starts the worker, and wires xterm.js, the disk pickers and the state-file save/restore.
 */
import { openTerminal } from "../web/terminal.js";
import type { BootImages, DiskSource, FromWorker, ToWorker } from "./messages.js";

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLParagraphElement>("status");
const download = $<HTMLParagraphElement>("download");
const stats = $<HTMLParagraphElement>("stats");
const saveButton = $<HTMLButtonElement>("save");

let worker: Worker | null = null;
let images: BootImages | null = null;
let savedUrl: string | null = null;

const term = openTerminal($("terminal"), (bytes) => send({ t: "input", data: bytes }));

function send(m: ToWorker): void {
  worker?.postMessage(m);
}

function setStatus(state: string, text: string): void {
  status.dataset.state = state;
  status.textContent = text;
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function loadImages(): Promise<BootImages> {
  if (images) return images;
  setStatus("loading", "Fetching the bundled guest…");
  const [kernel, initrd] = await Promise.all([
    fetchBytes("images/Image.gz"),
    fetchBytes("images/initramfs.cpio.gz"),
  ]);
  images = { kernel, initrd };
  return images;
}

async function pickedDisk(): Promise<DiskSource | undefined> {
  const format = ($<HTMLSelectElement>("disk-format").value || undefined) as DiskSource["format"];
  const file = $<HTMLInputElement>("disk-file").files?.[0];
  if (file) return { name: file.name, blob: file, format };
  const url = $<HTMLInputElement>("disk-url").value.trim();
  if (!url) return undefined;
  setStatus("loading", `Fetching ${url}…`);
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  const name = new URL(url, location.href).pathname.split("/").pop() || "disk.img";
  return { name, blob: await res.blob(), format };
}

function freshWorker(): Worker {
  worker?.terminate();
  const w = new Worker(new URL("play-worker.js", import.meta.url), { type: "module" });
  w.onmessage = (e: MessageEvent<FromWorker>) => {
    const m = e.data;
    switch (m.t) {
      case "output":
        term.write(m.data);
        break;
      case "status":
        setStatus(m.state, m.text);
        saveButton.disabled = m.state !== "running";
        break;
      case "stats":
        stats.textContent = `${(m.instructions / 1e6).toFixed(0)} M guest instructions in ${(m.sinceBootMs / 1000).toFixed(0)} s`;
        stats.dataset.instructions = String(m.instructions);
        break;
      case "saved": {
        if (savedUrl) URL.revokeObjectURL(savedUrl);
        savedUrl = URL.createObjectURL(m.blob);
        const a = document.createElement("a");
        a.href = savedUrl;
        a.download = "tvisor-play.state";
        a.id = "state-link";
        a.textContent = `Download the state file (${(m.bytes / 1048576).toFixed(1)} MiB, saved in ${m.ms.toFixed(0)} ms)`;
        download.replaceChildren(a);
        a.click();
        break;
      }
    }
  };
  w.onerror = (e) => setStatus("failed", `worker error: ${e.message}`);
  worker = w;
  return w;
}

$<HTMLFormElement>("boot-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const imgs = await loadImages();
    const disk = await pickedDisk();
    const memMiB = Number($<HTMLInputElement>("mem").value);
    if (!Number.isInteger(memMiB) || memMiB < 16 || memMiB > 2048)
      throw new Error("memory: a whole number of MiB from 16 to 2048");
    freshWorker();
    setStatus("booting", "Starting…");
    term.term.reset();
    send({ t: "boot", images: imgs, memMiB, jit: $<HTMLSelectElement>("jit").value as "on" | "off", disk });
    term.term.focus();
  } catch (err) {
    setStatus("failed", err instanceof Error ? err.message : String(err));
  }
});

saveButton.addEventListener("click", () => send({ t: "save" }));

$<HTMLInputElement>("restore-file").addEventListener("change", async (e) => {
  const file = (e.target as HTMLInputElement).files?.[0];
  if (!file) return;
  try {
    const imgs = await loadImages();
    const disk = await pickedDisk();
    freshWorker();
    setStatus("booting", "Restoring…");
    term.term.reset();
    send({ t: "restore", images: imgs, state: file, disk });
    term.term.focus();
  } catch (err) {
    setStatus("failed", err instanceof Error ? err.message : String(err));
  }
});
