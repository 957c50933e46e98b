/** Tests for the work budget: spending up to the limit, and a clear error past it. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { WorkBudget } from "./work-budget.js";

test("spends up to the limit, then throws the budget's error without spending", () => {
  const b = new WorkBudget(10, (limit) => new Error(`over ${limit}`));
  b.spend(4);
  b.spend(6);
  assert.equal(b.spent, 10);
  assert.equal(b.remaining, 0);
  assert.throws(() => b.spend(1), /over 10/);
  assert.equal(b.spent, 10);
  b.spend(0);
});
