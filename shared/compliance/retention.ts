// The retention cleanup loop shared by the retention-cleanup function and npm start's dev job:
// private.retention_cleanup in its own transaction per batch (no lock outlives a batch), adding
// to one retention_runs row, until nothing is left, the row budget or the time budget is spent
// (the next run continues where this one stopped).
import type { Db } from "../db/index.ts";

export interface CleanupResult {
  run_id: string | null;
  counts: Record<string, number>;
  total: number;
  batches: number;
  done: boolean;
  error: string | null;
}

export async function runRetentionCleanup(db: Db, o: {
  batch: number; maxRows: number; trigger: "http" | "dev" | "manual" | "pg_cron"; timeBudgetMs?: number;
}): Promise<CleanupResult> {
  const started = performance.now();
  const out: CleanupResult = { run_id: null, counts: {}, total: 0, batches: 0, done: false, error: null };
  while (out.total < o.maxRows) {
    const take = Math.min(o.batch, o.maxRows - out.total);
    const [r] = await db.withService((tx) => tx<{ r: { run_id: string; counts: Record<string, number>; total: number; done: boolean; error?: string } }[]>`
      select private.retention_cleanup(${take}::int, ${take}::int, ${o.trigger}::text, ${out.run_id}::uuid) as r`);
    out.batches++;
    out.run_id = r.r.run_id;
    for (const [k, v] of Object.entries(r.r.counts)) out.counts[k] = (out.counts[k] ?? 0) + Number(v);
    out.total += Number(r.r.total);
    if (r.r.error) {
      out.error = r.r.error;
      return out;
    }
    if (r.r.done) {
      out.done = true;
      return out;
    }
    if (o.timeBudgetMs !== undefined && performance.now() - started > o.timeBudgetMs) return out;
  }
  return out;
}
