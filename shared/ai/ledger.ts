// What a request may do and what it did, each in ONE autocommit statement, so the rows every
// request touches (the per-distributor rate-limit bucket, the monthly budget row, provider
// health) are locked only while that statement runs — never across a round trip to the
// function (migrations/20261202001500_ai_admit_and_record.sql).
//
//   admit:  the rate-limit hit, the providers cooling down, the budget reservation (the worst
//           case over the providers not cooling down): before any provider is called.
//   record: the ai_responses row, the settlement (release the reservation, add the actual
//           cost) and provider health (only when it changes): after.
//
// Budgets: atomic across instances — the reservation is one conditional update of the
// distributor's month row (spent + reserved + estimate ≤ budget), so concurrent requests never
// reserve past the budget. Health: in Postgres, shared by every instance: a provider that failed
// AI_FAILURE_THRESHOLD requests in a row is skipped for AI_COOLDOWN_SECONDS; after the
// cooldown it is tried again; one more failure starts a new cooldown, a success resets it.
import { ApiError } from "../http/errors.ts";
import type { RunOptions, Sql } from "../db/index.ts";
import type { ProviderOutcome } from "./engine.ts";
import type { ProviderId } from "./registry.ts";

export interface Admission {
  cooling: Set<ProviderId>;
  /** USD reserved (null: nothing reserved — no distributor, or every keyed provider cooling). */
  reserved: number | null;
  /** False: the reservation did not fit the budget. */
  ok: boolean;
}

export interface AdmitInput {
  distributorId: string | null;
  userId: string;
  /** A rate-limit hit taken in the same statement (memberOf: a per-distributor limit only members spend). */
  limit?: RunOptions;
  /** Worst-case USD per provider the request has a key for (budgeted requests only). */
  estimates?: Partial<Record<ProviderId, number>>;
  defaultBudgetUsd: number;
}

const RATE_LIMITED = "P0429";

export async function admit(sql: Sql, a: AdmitInput): Promise<Admission> {
  const rule = a.limit?.rateLimit;
  let row: { rate_limit: { hits: number; reset: number } | null; cooling: ProviderId[]; reserved: string | number | null; ok: boolean };
  try {
    [{ r: row }] = await sql<{ r: typeof row }[]>`
      select private.ai_admit(${rule?.memberOf ? a.distributorId : null}::uuid, ${a.userId}::uuid,
        ${rule?.key ?? null}::text, ${rule?.limit ?? null}::int, ${rule?.windowSeconds ?? null}::int,
        ${a.distributorId && a.estimates ? sql.json(a.estimates as never) : null}::jsonb, ${a.defaultBudgetUsd}::numeric) as r`;
  } catch (err) {
    const e = err as { code?: string; detail?: string };
    if (rule && e?.code === RATE_LIMITED) {
      const retry = String(Math.max(1, Number(e.detail) || rule.windowSeconds));
      throw new ApiError("rate_limited", {
        "Retry-After": retry, "RateLimit-Limit": String(rule.limit), "RateLimit-Remaining": "0", "RateLimit-Reset": retry,
      });
    }
    throw err;
  }
  if (rule && row.rate_limit) {
    a.limit?.onRateLimit?.({ limit: rule.limit, remaining: rule.limit - row.rate_limit.hits, reset: row.rate_limit.reset });
  }
  return { cooling: new Set(row.cooling), reserved: row.reserved == null ? null : Number(row.reserved), ok: row.ok };
}

export interface ResponseRow {
  id: string;
  distributor_id: string | null;
  user_id: string;
  message_id: string | null;
  route: "suggest" | "generate";
  agent_type: string | null;
  provider: string | null;
  model: string | null;
  attempts: number;
  attempt_log: unknown[];
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  latency_ms: number;
  confidence: number | null;
  contains_pii: boolean;
  flagged: boolean;
  status: "ok" | "failed";
  error_class: string | null;
  response_encrypted: string | null;
  response_iv: string | null;
  key_version: number | null;
}

/** The outcome of one request (one statement): row, settlement of `reserved` with `actualUsd`, health. */
export async function record(sql: Sql, row: ResponseRow, reserved: number | null, actualUsd: number,
  outcomes: ProviderOutcome[], threshold: number, cooldownSeconds: number): Promise<void> {
  const health = outcomes.filter((o) => o.ok || o.countsAgainstHealth).map((o) => ({ provider: o.provider, ok: o.ok }));
  await sql`select private.ai_record(${sql.json(row as never)}::jsonb, ${reserved}::numeric, ${actualUsd}::numeric,
    ${sql.json(health as never)}::jsonb, ${threshold}::int, ${cooldownSeconds}::int)`;
}
