/** A one-line progress bar for long image operations, drawn only on a terminal. */

export function progressBar(enabled: boolean): (done: number, total: number) => void {
  const out = process.stderr;
  if (!enabled || !out.isTTY) return () => undefined;
  let last = -1;
  return (done, total) => {
    const pct = total === 0 ? 100 : Math.floor((done / total) * 1000) / 10;
    if (pct === last) return;
    last = pct;
    const width = Math.max(10, Math.min(50, (out.columns ?? 80) - 20));
    const fill = Math.round((pct / 100) * width);
    out.write(`\r    [${"#".repeat(fill)}${" ".repeat(width - fill)}] ${pct.toFixed(1).padStart(5)}%`);
    if (done >= total) out.write("\n");
  };
}
