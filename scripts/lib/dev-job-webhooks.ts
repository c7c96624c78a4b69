// npm start: the outbound webhook worker every few seconds in development, like pg_cron + pg_net
// (or a scheduled function) calling POST /functions/v1/webhook-deliver in production. One pass
// per tick (shared/webhooks/worker.ts), plus the security alert webhook. WEBHOOKS_DEV_INTERVAL
// is not a config variable: the interval is fixed at 5 s here. Returns the stop function.
import { loadConfig } from "../../shared/config/index.ts";
import { createKeyring } from "../../shared/crypto/index.ts";
import { createDb } from "../../shared/db/index.ts";
import { createLogger } from "../../shared/log/index.ts";
import { DistributorKeyCache } from "../../shared/tenancy/keys.ts";
import { sendSecurityAlerts } from "../../shared/security/alerts.ts";
import { urlPolicy } from "../../shared/webhooks/config.ts";
import { systemResolver } from "../../shared/webhooks/ssrf.ts";
import { runPass } from "../../shared/webhooks/worker.ts";

export const DEV_INTERVAL_MS = 5_000;

export function startDevJob(env: Record<string, string>, log: (line: string) => void, o: { intervalMs?: number } = {}): () => Promise<void> {
  const config = loadConfig(env);
  const db = createDb({ url: config.databaseUrl, max: 2, statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS, prepare: config.DB_PREPARE });
  const logger = createLogger("silent");
  let running: Promise<void> | null = null;
  let stopped = false;
  const ready = (async () => {
    const keyring = await createKeyring({ version: config.SECRET_MASTER_KEY_VERSION, hex: config.SECRET_MASTER_KEY }, config.SECRET_MASTER_KEY_PREVIOUS);
    return {
      db, logger, tenantKeys: new DistributorKeyCache(db.sql, keyring), now: () => new Date(),
      resolve: systemResolver, policy: urlPolicy(config), config,
    };
  })();
  ready.catch((err) => log(`webhook worker: not started (${(err as Error).message})`));
  const tick = () => {
    if (running || stopped) return;
    running = (async () => {
      try {
        const w = await ready;
        const r = await runPass(w);
        const alerts = await sendSecurityAlerts(w);
        if (r.claimed || alerts) log(`webhooks: ${r.claimed} attempts, ${r.delivered} delivered, ${r.failed} failed${alerts ? `, ${alerts} alerts` : ""}`);
      } catch (err) {
        log(`webhook worker failed: ${(err as { code?: string }).code ?? (err as Error)?.name ?? "error"}`);
      } finally {
        running = null;
      }
    })();
  };
  const every = setInterval(tick, o.intervalMs ?? DEV_INTERVAL_MS);
  return async () => {
    stopped = true;
    clearInterval(every);
    await running;
    await db.end();
  };
}
