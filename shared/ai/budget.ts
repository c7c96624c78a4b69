// Monthly AI budgets per distributor, atomic across instances: a request reserves its
// worst-case cost before any provider is called (refused past the budget: 429) and settles
// the actual cost afterwards. Reservation and settlement are single statements on the row.
import type { Sql, Tx } from "../db/index.ts";

export async function reserveBudget(sql: Sql, distributorId: string, estimateUsd: number, defaultBudgetUsd: number): Promise<boolean> {
  const [r] = await sql<{ ok: boolean }[]>`
    select private.ai_budget_reserve(${distributorId}::uuid, ${estimateUsd}::numeric, ${defaultBudgetUsd}::numeric) as ok`;
  return r.ok;
}

export function settleBudget(tx: Tx, distributorId: string, estimateUsd: number, actualUsd: number) {
  return tx`select private.ai_budget_settle(${distributorId}::uuid, ${estimateUsd}::numeric, ${actualUsd}::numeric)`;
}
