/** Prometheus text exposition (format 0.0.4) of every VM's stats, for GET /metrics. */
import type { VmStats } from "../api/messages.js";

const STATES = ["defined", "running", "paused", "stopped", "crashed"] as const;

interface Metric {
  name: string;
  help: string;
  type: "gauge" | "counter";
  value(s: VmStats): number;
}

const METRICS: Metric[] = [
  {
    name: "tvisor_vm_uptime_seconds",
    help: "Seconds since the VM last started",
    type: "gauge",
    value: (s) => s.uptimeSec,
  },
  {
    name: "tvisor_vm_instructions_total",
    help: "Guest instructions retired",
    type: "counter",
    value: (s) => s.instructions,
  },
  {
    name: "tvisor_vm_instructions_per_second",
    help: "Guest instructions retired per second",
    type: "gauge",
    value: (s) => s.instructionsPerSec,
  },
  {
    name: "tvisor_vm_host_cpu_percent",
    help: "VM process CPU use (100 = one core)",
    type: "gauge",
    value: (s) => s.hostCpuPercent,
  },
  {
    name: "tvisor_vm_rss_bytes",
    help: "VM process resident memory",
    type: "gauge",
    value: (s) => s.rssBytes,
  },
  { name: "tvisor_vm_guest_ram_bytes", help: "Guest RAM size", type: "gauge", value: (s) => s.guestRamBytes },
  {
    name: "tvisor_vm_disk_read_bytes_total",
    help: "Bytes read from disks",
    type: "counter",
    value: (s) => s.disk.readBytes,
  },
  {
    name: "tvisor_vm_disk_written_bytes_total",
    help: "Bytes written to disks",
    type: "counter",
    value: (s) => s.disk.writeBytes,
  },
  {
    name: "tvisor_vm_disk_reads_total",
    help: "Disk read requests",
    type: "counter",
    value: (s) => s.disk.reads,
  },
  {
    name: "tvisor_vm_disk_writes_total",
    help: "Disk write requests",
    type: "counter",
    value: (s) => s.disk.writes,
  },
  {
    name: "tvisor_vm_disk_flushes_total",
    help: "Disk flush requests",
    type: "counter",
    value: (s) => s.disk.flushes,
  },
  {
    name: "tvisor_vm_net_rx_bytes_total",
    help: "Bytes received by NICs",
    type: "counter",
    value: (s) => s.net.rxBytes,
  },
  {
    name: "tvisor_vm_net_tx_bytes_total",
    help: "Bytes sent by NICs",
    type: "counter",
    value: (s) => s.net.txBytes,
  },
  {
    name: "tvisor_vm_net_rx_frames_total",
    help: "Frames received by NICs",
    type: "counter",
    value: (s) => s.net.rxFrames,
  },
  {
    name: "tvisor_vm_net_tx_frames_total",
    help: "Frames sent by NICs",
    type: "counter",
    value: (s) => s.net.txFrames,
  },
  {
    name: "tvisor_vm_balloon_target_bytes",
    help: "Memory the host asks the guest's balloon to hold",
    type: "gauge",
    value: (s) => s.memory?.targetBytes ?? 0,
  },
  {
    name: "tvisor_vm_balloon_bytes",
    help: "Memory in the guest's balloon (the driver's actual)",
    type: "gauge",
    value: (s) => s.memory?.balloonBytes ?? 0,
  },
  {
    name: "tvisor_vm_memory_released_bytes_total",
    help: "Guest memory given back to the host (balloon inflate and free page reporting)",
    type: "counter",
    value: (s) => s.memory?.releasedBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_free_bytes",
    help: "Free memory inside the guest (balloon statistics)",
    type: "gauge",
    value: (s) => s.memory?.guest?.freeBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_available_bytes",
    help: "Available memory inside the guest (balloon statistics)",
    type: "gauge",
    value: (s) => s.memory?.guest?.availableBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_cached_bytes",
    help: "Page cache inside the guest (balloon statistics)",
    type: "gauge",
    value: (s) => s.memory?.guest?.cachedBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_swap_in_bytes_total",
    help: "Bytes swapped in by the guest",
    type: "counter",
    value: (s) => s.memory?.guest?.swapInBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_swap_out_bytes_total",
    help: "Bytes swapped out by the guest",
    type: "counter",
    value: (s) => s.memory?.guest?.swapOutBytes ?? 0,
  },
  {
    name: "tvisor_vm_guest_major_faults_total",
    help: "Major page faults in the guest",
    type: "counter",
    value: (s) => s.memory?.guest?.majorFaults ?? 0,
  },
  {
    name: "tvisor_vm_guest_minor_faults_total",
    help: "Minor page faults in the guest",
    type: "counter",
    value: (s) => s.memory?.guest?.minorFaults ?? 0,
  },
  {
    name: "tvisor_vm_ksm_merging_pages",
    help: "Pages of the VM process merged by the host's KSM",
    type: "gauge",
    value: (s) => s.memory?.ksm.mergingPages ?? 0,
  },
  {
    name: "tvisor_vm_ksm_saved_bytes",
    help: "Bytes the host's KSM saves for the VM process (ksm_process_profit)",
    type: "gauge",
    value: (s) => s.memory?.ksm.savedBytes ?? 0,
  },
];

/** Per-NIC counters, labelled vm and nic (the NIC's position). */
const NIC_METRICS: { name: string; help: string; key: keyof VmStats["nics"][number] }[] = [
  { name: "tvisor_nic_rx_frames_total", help: "Frames delivered to the guest by the NIC", key: "rxFrames" },
  { name: "tvisor_nic_rx_bytes_total", help: "Bytes delivered to the guest by the NIC", key: "rxBytes" },
  { name: "tvisor_nic_tx_frames_total", help: "Frames the guest sent through the NIC", key: "txFrames" },
  { name: "tvisor_nic_tx_bytes_total", help: "Bytes the guest sent through the NIC", key: "txBytes" },
  {
    name: "tvisor_nic_rx_dropped_total",
    help: "Frames for the guest dropped (link down, no receive buffers, oversize)",
    key: "rxDropped",
  },
  {
    name: "tvisor_nic_tx_dropped_total",
    help: "Frames from the guest dropped (malformed, link down, backend drops)",
    key: "txDropped",
  },
];

/** Label values escape backslash, quote and newline (exposition format). VM names never need it, but be safe. */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

export function prometheusText(stats: VmStats[]): string {
  const lines: string[] = [];
  lines.push("# HELP tvisor_vm_state 1 for the VM's current state");
  lines.push("# TYPE tvisor_vm_state gauge");
  for (const s of stats)
    for (const st of STATES)
      lines.push(`tvisor_vm_state{vm="${label(s.name)}",state="${st}"} ${s.state === st ? 1 : 0}`);
  for (const m of METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`);
    lines.push(`# TYPE ${m.name} ${m.type}`);
    for (const s of stats) lines.push(`${m.name}{vm="${label(s.name)}"} ${m.value(s)}`);
  }
  for (const m of NIC_METRICS) {
    lines.push(`# HELP ${m.name} ${m.help}`);
    lines.push(`# TYPE ${m.name} counter`);
    for (const s of stats)
      for (const [i, n] of s.nics.entries())
        lines.push(`${m.name}{vm="${label(s.name)}",nic="${i}"} ${n[m.key]}`);
  }
  return `${lines.join("\n")}\n`;
}
