// npm start: the retention cleanup on a schedule in development, like pg_cron or a scheduled
// HTTP call would run it in production. Every RETENTION_DEV_INTERVAL_SECONDS (default one day;
// 0 = off), first a few seconds after start. Tests never start it. Returns the stop function.
import { loadConfig } from "../../shared/config/index.ts";
import { createDb } from "../../shared/db/index.ts";
import { runRetentionCleanup } from "../../shared/compliance/retention.ts";

export function startDevJob(env: Record<string, string>, log: (line: string) => void, o: { firstDelayMs?: number } = {}): () => Promise<void> {
  const config = loadConfig(env);
  if (config.RETENTION_DEV_INTERVAL_SECONDS === 0) {
    log("retention cleanup: off (RETENTION_DEV_INTERVAL_SECONDS=0)");
    return async () => {};
  }
  const db = createDb({ url: config.databaseUrl, max: 1, statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS, prepare: config.DB_PREPARE });
  let running: Promise<void> | null = null;
  let stopped = false;
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        // Unlike the HTTP call, the dev job keeps going until nothing is left (bounded by the row budget).
        const r = await runRetentionCleanup(db, { batch: config.RETENTION_BATCH_SIZE, maxRows: config.RETENTION_MAX_ROWS_PER_RUN, trigger: "dev" });
        log(`retention cleanup: ${r.total} rows deleted${r.done ? "" : " (more remain)"}${r.error ? `, failed: ${r.error}` : ""}`);
      } catch (err) {
        log(`retention cleanup failed: ${(err as { code?: string }).code ?? "error"}`);
      } finally {
        running = null;
      }
    })();
  };
  const first = setTimeout(tick, o.firstDelayMs ?? 5_000);
  const every = setInterval(tick, config.RETENTION_DEV_INTERVAL_SECONDS * 1000);
  return async () => {
    stopped = true;
    clearTimeout(first);
    clearInterval(every);
    await running;
    await db.end();
  };
}
