/** A budget of work (bytes scanned, entries visited) that one untrusted input may cause, counted as it is spent. */

/**
 * Parsers of untrusted files follow one rule: work driven by a count the file controls is bounded by the
 * file's size or a stated budget. A parser spends from a WorkBudget before each unit of such work (and
 * asks `remaining` before a scan of unknown length), so a crafted file fails fast with a clear error
 * instead of hanging the host, and tests can check the work done by counting it, not by timing it.
 */
export class WorkBudget {
  /** Units spent so far. */
  spent = 0;

  constructor(
    /** Units that may be spent in all. */
    readonly limit: number,
    /** Builds the error thrown when the budget would be exceeded. */
    private readonly exceeded: (limit: number) => Error,
  ) {}

  /** Units still available. */
  get remaining(): number {
    return Math.max(0, this.limit - this.spent);
  }

  /** Spend `units`; throws the budget's error (spending nothing) when that would exceed the limit. */
  spend(units: number): void {
    if (units > this.limit - this.spent) throw this.exceeded(this.limit);
    this.spent += units;
  }
}
