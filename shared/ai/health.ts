// Provider health in Postgres, so every function instance sees it: a provider that failed
// AI_FAILURE_THRESHOLD requests in a row is skipped for AI_COOLDOWN_SECONDS. After the
// cooldown it is tried again; one more failure starts a new cooldown, a success resets it.
import type { Sql, Tx } from "../db/index.ts";
import type { ProviderOutcome } from "./engine.ts";
import type { ProviderId } from "./registry.ts";

/** Providers cooling down now (one short statement on the pool, no transaction held). */
export async function providersInCooldown(sql: Sql): Promise<Set<ProviderId>> {
  const rows = await sql<{ provider: ProviderId }[]>`
    select provider from private.ai_provider_health where cooldown_until > now()`;
  return new Set(rows.map((r) => r.provider));
}

/** Record this request's outcome per provider (one statement). */
export function recordHealth(tx: Tx, outcomes: ProviderOutcome[], threshold: number, cooldownSeconds: number) {
  const rows = outcomes.filter((o) => o.ok || o.countsAgainstHealth).map((o) => ({ provider: o.provider, ok: o.ok }));
  if (!rows.length) return Promise.resolve([]);
  return tx`
    insert into private.ai_provider_health as h (provider, consecutive_failures, cooldown_until, updated_at)
    select r.provider, case when r.ok then 0 else 1 end,
           case when not r.ok and ${threshold}::int <= 1 then now() + make_interval(secs => ${cooldownSeconds}::int) end, now()
    from jsonb_to_recordset(${tx.json(rows)}::jsonb) as r(provider text, ok boolean)
    on conflict (provider) do update set
      consecutive_failures = case when excluded.consecutive_failures = 0 then 0 else h.consecutive_failures + 1 end,
      cooldown_until = case
        when excluded.consecutive_failures = 0 then null
        when h.consecutive_failures + 1 >= ${threshold}::int then now() + make_interval(secs => ${cooldownSeconds}::int)
        else h.cooldown_until end,
      updated_at = now()`;
}
