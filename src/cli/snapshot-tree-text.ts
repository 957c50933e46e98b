/** Drawing a VM's snapshot tree as text (`tvisor snapshot tree`), with the current position marked. */
import type { SnapshotList } from "../api/snapshots.js";

/** The marker for where the VM's current state sits: a child of the current snapshot, as VirtualBox shows "Current State". */
export const CURRENT_MARK = "(now)";

/**
 * One line per snapshot, children indented under their parent in creation order; the current state is
 * drawn as a leaf `(now)` under the snapshot it descends from (or at the top with no snapshot yet).
 */
export function drawSnapshotTree(tree: SnapshotList): string {
  const children = new Map<string | null, string[]>();
  for (const s of tree.snapshots) {
    const list = children.get(s.parent) ?? [];
    list.push(s.name);
    children.set(s.parent, list);
  }
  const info = new Map(tree.snapshots.map((s) => [s.name, s]));
  const lines: string[] = [];
  const walk = (parent: string | null, prefix: string) => {
    const kids: { label: string; name: string | null }[] = (children.get(parent) ?? []).map((n) => {
      const s = info.get(n)!;
      const what = s.stateDisk === null ? "disks" : `disks+state ${s.vmStateBytes} B`;
      return { label: `${n}  [${s.createdAt}, ${what}]`, name: n };
    });
    if (tree.current === parent) kids.push({ label: CURRENT_MARK, name: null });
    kids.forEach((k, i) => {
      const last = i === kids.length - 1;
      lines.push(`${prefix}${last ? "└─ " : "├─ "}${k.label}`);
      if (k.name !== null) walk(k.name, `${prefix}${last ? "   " : "│  "}`);
    });
  };
  walk(null, "");
  return `${lines.join("\n")}\n`;
}
