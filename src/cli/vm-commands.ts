/** The daemon's client verbs (virsh / VBoxManage style): create, start, stop, kill, pause, resume, rm, list, inspect, stats, save, restore. */
import { resolve } from "node:path";
import { type Command, Option } from "commander";
import type { SaveResult, VmInfo, VmList, VmStats } from "../api/messages.js";
import { NAME_PATTERN, type NicSpec, type VmDefinition } from "../api/vm-spec.js";
import { UserError } from "../base/errors.js";
import type { DiskSpec as DiskConfig, NetAddress } from "../vmm/vm-spec.js";
import { DaemonClient } from "./daemon-client.js";
import { parseNicFlag } from "./nic-flag.js";
import { parseCpus, parseDiskSpec, parseMemSize } from "./vm-flags.js";

const STATE_DIR_HELP =
  "the daemon's state directory (default: $TVISOR_STATE_DIR, the XDG state dir, or /var/lib/tvisor as root)";

interface ClientFlags {
  stateDir?: string;
}

/** A client verb: `--state-dir` on every one. */
function verb(program: Command, name: string, description: string): Command {
  return program.command(name).description(description).option("--state-dir <dir>", STATE_DIR_HELP);
}

function checkName(name: string): string {
  if (!new RegExp(NAME_PATTERN).test(name))
    throw new UserError(
      `VM name "${name}": use letters, digits, '_', '.', '-' (at most 64, not starting with '.', '_' or '-')`,
    );
  return name;
}

const vmPath = (name: string, suffix = "") => `/v1/vms/${encodeURIComponent(checkName(name))}${suffix}`;

/**
 * --nic for the daemon: QEMU's syntax (nic-flag.ts) → the API's NIC. A bare NETWORK is a port on the
 * daemon's switch of that name; other backends run in the VM's process. Host paths become absolute.
 */
export function parseNicSpec(text: string): NicSpec {
  const n = parseNicFlag(text);
  const b = n.backend ?? { kind: "hub" };
  const abs = (a: NetAddress): NetAddress =>
    a.type === "unix" ? { type: "unix", path: resolve(a.path) } : a;
  let nic: NicSpec;
  if (b.kind === "hub") nic = { network: b.network ?? "default" };
  else if (b.kind === "stream") nic = { backend: { ...b, addr: abs(b.addr) } };
  else if (b.kind === "dgram")
    nic = {
      backend: {
        kind: "dgram",
        ...(b.local ? { local: abs(b.local) } : {}),
        ...(b.remote ? { remote: abs(b.remote) } : {}),
      },
    };
  else nic = { backend: b };
  if (n.mac !== undefined) nic.mac = n.mac;
  if (n.pcap !== undefined) nic.pcap = resolve(n.pcap);
  return nic;
}

function parseIntFlag(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max)
    throw new UserError(`${flag}: expected ${min}..${max}, got "${text}"`);
  return n;
}

interface CreateFlags extends ClientFlags {
  kernel?: string;
  initrd?: string;
  append?: string;
  bios?: string;
  mem?: string;
  cpus?: string;
  disk: DiskConfig[];
  nic: NicSpec[];
  rng: boolean;
  balloon: boolean;
  reboot: boolean;
  console?: string;
  autostart?: boolean;
  cpuWeight?: string;
  cpuCap?: string;
  memOverhead?: string;
  memTarget?: string;
  jit?: string;
  jitCacheSize?: string;
}

/** The flags of `tvisor run` → a VM definition; host paths become absolute (the daemon has its own cwd). */
export function definitionFromFlags(name: string, f: CreateFlags): VmDefinition {
  const def: VmDefinition = { name: checkName(name) };
  if (f.kernel !== undefined) def.kernel = resolve(f.kernel);
  if (f.initrd !== undefined) def.initrd = resolve(f.initrd);
  if (f.append !== undefined) def.append = f.append;
  if (f.bios !== undefined) def.bios = f.bios === "builtin" || f.bios === "none" ? f.bios : resolve(f.bios);
  if (f.mem !== undefined) def.memBytes = parseMemSize(f.mem);
  if (f.cpus !== undefined) def.cpus = parseCpus(f.cpus);
  if (f.disk.length)
    def.disks = f.disk.map((d) => {
      const disk: NonNullable<VmDefinition["disks"]>[number] = {
        path: resolve(d.path),
        readOnly: d.readOnly,
      };
      if (d.format) disk.format = d.format;
      return disk;
    });
  if (f.nic.length) def.nics = f.nic;
  if (f.console !== undefined) {
    if (f.console !== "uart" && f.console !== "virtio")
      throw new UserError(`--console: expected uart or virtio, got "${f.console}"`);
    def.console = f.console;
  }
  if (!f.rng) def.rng = false;
  if (!f.balloon) def.balloon = false;
  if (!f.reboot) def.noReboot = true;
  if (f.autostart) def.autostart = true;
  if (f.jit !== undefined) {
    if (f.jit !== "on" && f.jit !== "off" && f.jit !== "always")
      throw new UserError(`--jit: expected on, off or always, got "${f.jit}"`);
    def.jit = f.jit;
  }
  if (f.jitCacheSize !== undefined)
    def.jitCacheSize = parseIntFlag("--jit-cache-size", f.jitCacheSize, 1, 1 << 20);
  if (f.cpuWeight !== undefined) def.cpuWeight = parseIntFlag("--cpu-weight", f.cpuWeight, 1, 65535);
  if (f.cpuCap !== undefined) def.cpuCapPercent = parseIntFlag("--cpu-cap", f.cpuCap, 0, 800);
  if (f.memTarget !== undefined) def.memTargetBytes = parseMemSize(f.memTarget, 0, "--mem-target");
  if (f.memOverhead !== undefined)
    def.memOverheadMiB = parseIntFlag("--mem-overhead", f.memOverhead, 64, 4096);
  return def;
}

/** Map the daemon's field names back to the flags of `create` in its one-line errors. */
const FLAG_OF_FIELD: [RegExp, string][] = [
  [/^body\.kernel\b/, "--kernel"],
  [/^body\.initrd\b/, "--initrd"],
  [/^body\.append\b/, "--append"],
  [/^body\.bios\b/, "--bios"],
  [/^body\.memBytes\b/, "--mem"],
  [/^body\.cpus\b/, "--cpus"],
  [/^body\.disks\b/, "--disk"],
  [/^body\.nics\b/, "--nic"],
  [/^body\.console\b/, "--console"],
  [/^body\.cpuWeight\b/, "--cpu-weight"],
  [/^body\.cpuCapPercent\b/, "--cpu-cap"],
  [/^body\.memOverheadMiB\b/, "--mem-overhead"],
  [/^body\.memTargetBytes\b/, "--mem-target"],
  [/^body\.jitCacheSize\b/, "--jit-cache-size"],
  [/^body\.jit\b/, "--jit"],
];

function flagError(e: unknown): unknown {
  if (!(e instanceof UserError)) return e;
  for (const [re, flag] of FLAG_OF_FIELD) {
    if (!re.test(e.message)) continue;
    // "body.disks[1].path: cannot read" → "--disk[1]: cannot read" (the index says which of several).
    const m = /^body\.[A-Za-z]+(\[\d+\])?[^:]*: (.*)$/s.exec(e.message);
    return new UserError(m ? `${flag}${m[1] ?? ""}: ${m[2]}` : e.message);
  }
  return e;
}

function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  "))
    .join("\n");
}

const MiB = 1024 * 1024;

function summary(vm: VmInfo): string[] {
  const d = vm.definition;
  const mem = `${Math.round((d.memBytes ?? 256 * MiB) / MiB)}M`;
  return [
    vm.name,
    vm.state,
    String(d.cpus ?? 1),
    mem,
    String(d.disks?.length ?? 0),
    vm.pid ? String(vm.pid) : "-",
    vm.reason ?? "",
  ];
}

/** CPU share over time as block characters, 100 % of one core = full block. */
function sparkline(values: number[]): string {
  const bars = " ▁▂▃▄▅▆▇█";
  return values.map((v) => bars[Math.max(0, Math.min(8, Math.round((v / 100) * 8)))]).join("");
}

function memoryLines(s: VmStats): string[] {
  const m = s.memory;
  if (!m) return [];
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  const out: string[] = [];
  if (m.balloon)
    out.push(
      `balloon     ${mib(m.balloonBytes)} of target ${mib(m.targetBytes)}; given back to the host ${mib(m.releasedBytes)}` +
        `${m.releasesToHost ? "" : " (not released: no madvise on this host)"}; free pages reported ${mib(m.reportedBytes)}` +
        `${m.hostileInputs ? `; ${m.hostileInputs} bad PFNs ignored` : ""}`,
    );
  else out.push("balloon     none (defined with balloon off)");
  const g = m.guest;
  if (g)
    out.push(
      `guest mem   free ${mib(g.freeBytes)}, available ${mib(g.availableBytes)}, cached ${mib(g.cachedBytes)}, ` +
        `swap in/out ${mib(g.swapInBytes)}/${mib(g.swapOutBytes)}, faults ${g.majorFaults} major / ${g.minorFaults} minor`,
    );
  else if (m.balloon) out.push("guest mem   no statistics yet (the guest's balloon driver has not reported)");
  out.push(
    `KSM         ${m.ksm.mergingPages} pages merged, ${mib(m.ksm.savedBytes)} saved${m.ksm.shareable ? "" : " (guest RAM not mergeable)"}`,
  );
  if (m.ksm.note) out.push(`            ${m.ksm.note}`);
  return out;
}

function formatStats(s: VmStats): string {
  const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
  return [
    `name        ${s.name}`,
    `state       ${s.state}`,
    `uptime      ${s.uptimeSec.toFixed(0)} s`,
    `guest       ${(s.instructionsPerSec / 1e6).toFixed(1)} M instr/s (${s.instructions} retired)`,
    `host CPU    ${s.hostCpuPercent.toFixed(0)} %${s.hostCpuHistory?.length ? `  last ${s.hostCpuHistory.length} s: ${sparkline(s.hostCpuHistory)}` : ""}`,
    `RSS         ${mib(s.rssBytes)} (guest RAM ${mib(s.guestRamBytes)})`,
    `disk        read ${s.disk.readBytes} B in ${s.disk.reads}, wrote ${s.disk.writeBytes} B in ${s.disk.writes}, ${s.disk.flushes} flushes`,
    `net         rx ${s.net.rxBytes} B / ${s.net.rxFrames} frames, tx ${s.net.txBytes} B / ${s.net.txFrames} frames`,
    ...s.nics.map(
      (n, i) =>
        `nic ${i}       rx ${n.rxBytes} B / ${n.rxFrames} frames (${n.rxDropped} dropped), tx ${n.txBytes} B / ${n.txFrames} frames (${n.txDropped} dropped)`,
    ),
    ...memoryLines(s),
  ].join("\n");
}

export function registerVmCommands(program: Command): void {
  verb(program, "create", "define a VM in the daemon (the flags of `tvisor run`)")
    .argument("<name>", "VM name")
    .option("--kernel <path>", "Linux kernel (Image or Image.gz); default: the bundled guest")
    .option("--initrd <path>", "initramfs (cpio, optionally gzip-compressed)")
    .option("--append <cmdline>", "kernel command line")
    .option("--bios <builtin|path>", "firmware: builtin SBI or an M-mode image")
    .option("--mem <size>", "RAM size, e.g. 256M or 1G (default 256M)")
    .option("--cpus <n>", "number of harts (1-8)")
    .addOption(
      new Option("--disk <spec>", "virtio-blk disk PATH[,format=raw|qcow2][,readonly=on] (repeatable)")
        .argParser((v: string, prev: DiskConfig[]) => [...prev, parseDiskSpec(v)])
        .default([] as DiskConfig[], "none"),
    )
    .addOption(
      new Option(
        "--nic <spec>",
        "virtio-net NIC: NETWORK (a daemon switch), user[,hostfwd=tcp:HOST:PORT-:PORT][,hostdns=ADDR], switch=NAME, " +
          "socket,listen|connect=HOST:PORT, stream,..., dgram,..., tap,ifname=NAME; each [,mac=MAC][,pcap=FILE] (repeatable)",
      )
        .argParser((v: string, prev: NicSpec[]) => [...prev, parseNicSpec(v)])
        .default([] as NicSpec[], "none"),
    )
    .option("--no-rng", "do not attach a virtio-rng device")
    .option("--no-balloon", "do not attach a virtio-balloon device (memory target, free page reporting)")
    .option("--no-reboot", "stop the VM when the guest resets instead of rebooting it")
    .option("--console <uart|virtio>", "device the console is attached to (default uart)")
    .option("--jit <on|off|always>", "translate hot guest code to WebAssembly (default on)")
    .option("--jit-cache-size <n>", "most translated regions kept per hart (default 8192)")
    .option("--autostart", "start the VM whenever the daemon starts")
    .option("--cpu-weight <n>", "share of contended CPU, 1-65535 (as Xen's credit weight; default 256)")
    .option("--cpu-cap <percent>", "CPU ceiling in percent of one core, 0-800 (0 = none, the default)")
    .option("--mem-overhead <MiB>", "process memory allowed beyond guest RAM (default 256)")
    .option("--mem-target <size>", "memory the guest may keep once started; the balloon takes the rest")
    .action(async (name: string, f: CreateFlags) => {
      const client = DaemonClient.fromFlag(f.stateDir);
      const def = definitionFromFlags(name, f);
      let vm: VmInfo;
      try {
        vm = await client.call<VmInfo>("POST", "/v1/vms", def);
      } catch (e) {
        throw flagError(e);
      }
      process.stdout.write(`defined VM ${vm.name}\n`);
      for (const n of vm.notes ?? []) process.stdout.write(`  ${n}\n`);
    });

  const simple: [string, string, string][] = [
    ["start", "start a VM in its own process", "start"],
    ["kill", "end a VM's process at once", "kill"],
    ["pause", "pause a running VM", "pause"],
    ["resume", "resume a paused VM", "resume"],
  ];
  for (const [name, description, action] of simple) {
    verb(program, name, description)
      .argument("<name>", "VM name")
      .action(async (vm: string, f: ClientFlags) => {
        const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>(
          "POST",
          vmPath(vm, `/${action}`),
          {},
        );
        process.stdout.write(`VM ${info.name}: ${info.state}\n`);
      });
  }

  verb(program, "stop", "power the guest off (as a power button), killing it after --timeout")
    .argument("<name>", "VM name")
    .option("--timeout <seconds>", "seconds to wait for the guest before killing it", "30")
    .action(async (vm: string, f: ClientFlags & { timeout: string }) => {
      const t = Number(f.timeout);
      if (!Number.isFinite(t) || t < 0 || t > 3600)
        throw new UserError(`--timeout: expected 0..3600 seconds, got "${f.timeout}"`);
      const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>("POST", vmPath(vm, "/stop"), {
        timeoutSec: t,
      });
      process.stdout.write(`VM ${info.name}: ${info.state}${info.reason ? ` (${info.reason})` : ""}\n`);
    });

  verb(program, "rm", "delete a VM that is not running (its disk images are kept)")
    .argument("<name>", "VM name")
    .action(async (vm: string, f: ClientFlags) => {
      await DaemonClient.fromFlag(f.stateDir).call("DELETE", vmPath(vm));
      process.stdout.write(`deleted VM ${vm}\n`);
    });

  verb(program, "list", "list VMs")
    .option("--json", "print JSON")
    .action(async (f: ClientFlags & { json?: boolean }) => {
      const { vms } = await DaemonClient.fromFlag(f.stateDir).call<VmList>("GET", "/v1/vms");
      if (f.json) return printJson(vms);
      if (vms.length === 0)
        return void process.stdout.write("no VMs (define one with: tvisor create NAME)\n");
      process.stdout.write(
        `${table([["NAME", "STATE", "CPUS", "MEM", "DISKS", "PID", "REASON"], ...vms.map(summary)])}\n`,
      );
    });

  verb(program, "inspect", "a VM's definition and state")
    .argument("<name>", "VM name")
    .option("--json", "print JSON")
    .action(async (vm: string, f: ClientFlags & { json?: boolean }) => {
      const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>("GET", vmPath(vm));
      if (f.json) return printJson(info);
      const d = info.definition;
      const lines = [
        `name      ${info.name}`,
        `state     ${info.state}${info.reason ? ` (${info.reason})` : ""}`,
        ...(info.pid ? [`pid       ${info.pid}`] : []),
        `kernel    ${d.kernel ?? "-"}`,
        `initrd    ${d.initrd ?? "-"}`,
        `append    ${d.append ?? "(default)"}`,
        `bios      ${d.bios ?? "builtin"}`,
        `memory    ${Math.round((d.memBytes ?? 256 * MiB) / MiB)} MiB, ${d.cpus ?? 1} hart(s)`,
        ...(d.disks ?? []).map(
          (k, i) => `disk ${i}    ${k.path} (${k.format}${k.readOnly ? ", read-only" : ""})`,
        ),
        ...(d.nics ?? []).map(
          (n, i) =>
            `nic ${i}     ${n.backend ? n.backend.kind : `network ${n.network ?? "default"}`}` +
            `${n.mac ? `, mac ${n.mac}` : ""}${n.pcap ? `, pcap ${n.pcap}` : ""}`,
        ),
        `console   ${d.console ?? "uart"}`,
        `autostart ${d.autostart ? "yes" : "no"}`,
        ...(info.cpu
          ? [
              `cpu       weight ${info.cpu.weight}, cap ${info.cpu.capPercent ? `${info.cpu.capPercent} % of a core` : "none"}, enforced by ${
                info.cpu.mechanism === "pacing"
                  ? "pacing (nice value + SIGSTOP/SIGCONT duty cycle: no cgroup available)"
                  : `${info.cpu.mechanism === "cgroup-v1" ? "cgroup v1 cpu.shares/cfs_quota_us" : "cgroup v2 cpu.weight/cpu.max"}`
              }`,
            ]
          : []),
        ...(d.memTargetBytes !== undefined
          ? [`mem target ${Math.round(d.memTargetBytes / MiB)} MiB (balloon)`]
          : []),
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    });

  verb(program, "stats", "a VM's counters")
    .argument("<name>", "VM name")
    .option("--json", "print JSON")
    .option("--watch", "refresh every second until interrupted")
    .action(async (vm: string, f: ClientFlags & { json?: boolean; watch?: boolean }) => {
      const client = DaemonClient.fromFlag(f.stateDir);
      for (;;) {
        const s = await client.call<VmStats>("GET", vmPath(vm, "/stats"));
        if (f.json) printJson(s);
        else process.stdout.write(`${f.watch ? "\x1b[H\x1b[2J" : ""}${formatStats(s)}\n`);
        if (!f.watch) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
    });

  verb(program, "set", "change a VM's CPU weight and cap, also while it runs")
    .argument("<name>", "VM name")
    .option("--cpu-weight <n>", "share of contended CPU, 1-65535 (default 256)")
    .option("--cpu-cap <percent>", "CPU ceiling in percent of one core, 0-800 (0 = none)")
    .action(async (vm: string, f: ClientFlags & { cpuWeight?: string; cpuCap?: string }) => {
      const body: { weight?: number; capPercent?: number } = {};
      if (f.cpuWeight !== undefined) body.weight = parseIntFlag("--cpu-weight", f.cpuWeight, 1, 65535);
      if (f.cpuCap !== undefined) body.capPercent = parseIntFlag("--cpu-cap", f.cpuCap, 0, 800);
      if (body.weight === undefined && body.capPercent === undefined)
        throw new UserError("set: give --cpu-weight and/or --cpu-cap");
      const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>("POST", vmPath(vm, "/cpu"), body);
      const c = info.cpu;
      process.stdout.write(
        `VM ${info.name}: cpu weight ${c?.weight}, cap ${c?.capPercent ? `${c.capPercent} %` : "none"} (${c?.mechanism})\n`,
      );
    });

  verb(program, "balloon", "set the memory a running VM's guest may keep; its balloon takes the rest")
    .argument("<name>", "VM name")
    .argument("<size>", "memory the guest may keep, e.g. 192M (its full RAM deflates the balloon)")
    .action(async (vm: string, size: string, f: ClientFlags) => {
      const bytes = parseMemSize(size, 0, "balloon size");
      await DaemonClient.fromFlag(f.stateDir).call<VmInfo>("POST", vmPath(vm, "/balloon"), {
        targetBytes: bytes,
      });
      process.stdout.write(
        `VM ${vm}: the guest may keep ${Math.round(bytes / MiB)} MiB; its balloon takes the rest\n`,
      );
    });

  verb(program, "save", "pause a VM and write its complete state to FILE")
    .argument("<name>", "VM name")
    .argument("<file>", "state file to write")
    .action(async (vm: string, file: string, f: ClientFlags) => {
      const r = await DaemonClient.fromFlag(f.stateDir).call<SaveResult>("POST", vmPath(vm, "/save"), {
        file: resolve(file),
      });
      process.stdout.write(`saved VM ${vm} to ${r.file} (${r.bytes} bytes); it stays paused\n`);
    });

  verb(program, "restore", "restore a state file and resume the VM")
    .argument("<file>", "state file written by `tvisor save`")
    .option("--name <new>", "restore as this VM (default: the name in the file)")
    .action(async (file: string, f: ClientFlags & { name?: string }) => {
      const body: { file: string; name?: string } = { file: resolve(file) };
      if (f.name !== undefined) body.name = checkName(f.name);
      const info = await DaemonClient.fromFlag(f.stateDir).call<VmInfo>("POST", "/v1/restore", body);
      process.stdout.write(`VM ${info.name}: ${info.state}\n`);
    });
}
