/** `tvisor image info`: format, sizes, backing chain and snapshots, as text or qemu-img-style JSON. */
import type { Command } from "commander";
import type { ImageBackend, ImageInfo, SnapshotInfo } from "../../storage/image-backend.js";
import { openImageBackend } from "../../storage/node/open-image.js";
import { printable } from "../../storage/printable.js";
import { formatSize } from "./size.js";

type Json = string | number | boolean | Json[] | { [k: string]: Json };

function snapshotJson(s: SnapshotInfo): Json {
  return {
    icount: s.icount ?? 0,
    "vm-state-size": s.vmStateSize,
    "date-sec": s.dateSec,
    "date-nsec": s.dateNsec,
    "vm-clock-sec": Math.floor(s.vmClockNsec / 1e9),
    "vm-clock-nsec": s.vmClockNsec % 1e9,
    id: s.id,
    name: s.name,
  };
}

/** Key order follows `qemu-img info --output=json`. */
export function infoJson(path: string, info: ImageInfo, actual: number): { [k: string]: Json } {
  const j: { [k: string]: Json } = { "virtual-size": info.virtualSize, filename: path };
  if (info.clusterSize) j["cluster-size"] = info.clusterSize;
  j.format = info.format;
  j["actual-size"] = actual;
  if (info.snapshots.length > 0) j.snapshots = info.snapshots.map(snapshotJson);
  if (info.formatSpecific) j["format-specific"] = info.formatSpecific;
  if (info.backingFilename) {
    j["backing-filename"] = info.backingFilename;
    j["full-backing-filename"] = info.fullBackingFilename ?? info.backingFilename;
    if (info.backingFormat) j["backing-filename-format"] = info.backingFormat;
  }
  j["dirty-flag"] = info.dirty ?? false;
  return j;
}

/**
 * JSON as qemu-img prints it. JSON.stringify escapes C0 controls but not DEL, C1 controls or bidi marks,
 * which names read from the file may hold; those become \u escapes too (still valid JSON, same strings).
 */
export function jsonText(v: Json): string {
  return JSON.stringify(v, null, 4).replace(
    /[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${(c.codePointAt(0) ?? 0).toString(16).padStart(4, "0")}`,
  );
}

function pad2(n: number): string {
  return String(n).padStart(2, "0");
}

export function snapshotTable(snaps: SnapshotInfo[]): string {
  const lines = ["ID        TAG               VM SIZE                DATE     VM CLOCK     ICOUNT"];
  for (const s of snaps) {
    const d = new Date(s.dateSec * 1000);
    const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
    const ms = Math.floor(s.vmClockNsec / 1e6);
    const clock = `${pad2(Math.floor(ms / 3600000))}:${pad2(Math.floor(ms / 60000) % 60)}:${pad2(Math.floor(ms / 1000) % 60)}.${String(ms % 1000).padStart(3, "0")}`;
    lines.push(
      `${printable(s.id).padEnd(9)} ${printable(s.name).padEnd(17)} ${formatSize(s.vmStateSize).padStart(7)} ${date} ${clock} ${String(s.icount ?? 0).padStart(10)}`,
    );
  }
  return `${lines.join("\n")}\n`;
}

function text(path: string, info: ImageInfo, actual: number): string {
  let s = `image: ${printable(path)}\nfile format: ${info.format}\nvirtual size: ${formatSize(info.virtualSize)} (${info.virtualSize} bytes)\ndisk size: ${formatSize(actual)}\n`;
  if (info.clusterSize) s += `cluster_size: ${info.clusterSize}\n`;
  if (info.backingFilename) {
    s += `backing file: ${printable(info.backingFilename)}`;
    if (info.fullBackingFilename && info.fullBackingFilename !== info.backingFilename) {
      s += ` (actual path: ${printable(info.fullBackingFilename)})`;
    }
    s += "\n";
    if (info.backingFormat) s += `backing file format: ${printable(info.backingFormat)}\n`;
  }
  if (info.snapshots.length > 0) s += `Snapshot list:\n${snapshotTable(info.snapshots)}`;
  if (info.formatSpecific) {
    s += "Format specific information:\n";
    for (const [k, v] of Object.entries(info.formatSpecific.data))
      s += `    ${k.replace(/-/g, " ")}: ${printable(String(v))}\n`;
  }
  return s;
}

export function registerInfo(image: Command): void {
  image
    .command("info")
    .description("show information about an image")
    .option("-f <fmt>", "image format (probed if omitted)")
    .option("--json", "print JSON like `qemu-img info --output=json`")
    .option("--output <fmt>", "human or json")
    .option("--backing-chain", "also show every backing image")
    .argument("<path>")
    .action(
      async (path: string, o: { f?: string; json?: boolean; output?: string; backingChain?: boolean }) => {
        // Like qemu-img info, the backing file is opened only for --backing-chain: the header names it.
        const img = await openImageBackend(path, {
          format: o.f,
          readOnly: true,
          noBacking: o.backingChain !== true,
        });
        try {
          const chain: { path: string; img: ImageBackend }[] = [{ path, img }];
          if (o.backingChain) {
            for (let b = img.backing; b; b = b.backing) chain.push({ path: b.path, img: b });
          }
          const entries = [];
          for (const c of chain)
            entries.push({ path: c.path, info: await c.img.info(), actual: await c.img.actualSize() });
          if (o.json || o.output === "json") {
            const js = entries.map((e) => infoJson(e.path, e.info, e.actual));
            process.stdout.write(`${jsonText(o.backingChain ? js : js[0])}\n`);
          } else {
            process.stdout.write(entries.map((e) => text(e.path, e.info, e.actual)).join("\n"));
          }
        } finally {
          await img.close();
        }
      },
    );
}
