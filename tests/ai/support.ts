// Set-up shared by the ai-respond tests: one fake of the four providers, Deps pointed at it,
// the app (backoff sleeps recorded, not slept), a superuser connection and worlds.
import { test as base } from "vitest";
import type postgres from "postgres";
import { createApp, type AiAppOptions } from "../../functions/ai-respond/app.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import { sealSecret } from "../../shared/secrets/index.ts";
import { adminSql, testDeps } from "../support/harness.ts";
import { arranger } from "../support/messages.ts";
import { startFakeProviders, type FakeProviders } from "./fake-providers.ts";

export const BASE = "http://localhost/functions/v1/ai-respond";
export type App = ReturnType<typeof createApp>;

export interface Req { token?: string | null; distributor?: string | null; body?: unknown; headers?: Record<string, string>; app?: App }

export function requester(app: App) {
  return (method: string, path: string, o: Req = {}) => {
    const headers: Record<string, string> = { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), ...o.headers };
    if (o.distributor) headers["x-distributor-id"] = o.distributor;
    let body: string | undefined;
    if (o.body !== undefined) {
      headers["content-type"] ??= "application/json";
      body = typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    }
    return Promise.resolve((o.app ?? app).request(`${BASE}${path}`, { method, headers, body }));
  };
}

/** Parse a text/event-stream body into events. */
export async function readSse(res: Response): Promise<{ event: string; data: Record<string, unknown> }[]> {
  const text = await res.text();
  return text.split("\n\n").filter((b) => b.trim()).map((block) => {
    const event = /^event: (.*)$/m.exec(block)?.[1] ?? "message";
    const data = JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? "{}");
    return { event, data };
  });
}

export async function storeUserKey(deps: Deps, sql: postgres.Sql, userId: string, service: string, value: string) {
  const s = await sealSecret(deps.keyring, userId, service, value);
  await sql`insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound)
            values (${userId}, ${service}, ${s.encryptedValue}, ${s.iv}, ${s.keyVersion}, true)
            on conflict (user_id, service_name) do update set encrypted_value = excluded.encrypted_value,
              initialization_vector = excluded.initialization_vector, key_version = excluded.key_version, aad_bound = true, is_active = true`;
}

export const FAST_ENV = {
  AI_SUGGEST_RATE_LIMIT_PER_MINUTE: "1000", AI_GENERATE_RATE_LIMIT_PER_MINUTE: "1000",
  AI_ATTEMPT_TIMEOUT_MS: "2000", AI_DEADLINE_MS: "10000", AI_BACKOFF_BASE_MS: "1",
};

export const test = base
  .extend("fake", { scope: "file" }, async ({}, { onCleanup }) => {
    const f = await startFakeProviders();
    onCleanup(() => f.close());
    return f;
  })
  .extend("sleeps", { scope: "file" }, async () => [] as number[])
  .extend("deps", { scope: "file" }, async ({ fake }, { onCleanup }) => {
    const deps = await testDeps({ ...fake.env, ...FAST_ENV });
    onCleanup(() => deps.db.end());
    return deps;
  })
  .extend("sql", { scope: "file" }, async ({}, { onCleanup }) => {
    const sql = adminSql();
    onCleanup(() => sql.end());
    return sql;
  })
  .extend("app", { scope: "file" }, async ({ deps, sleeps }) => createApp(deps, { sleep: async (ms) => void sleeps.push(ms) }))
  .extend("api", { scope: "file" }, async ({ app }) => requester(app))
  .extend("arrange", { scope: "file" }, async ({ deps, sql }) => arranger(deps, sql))
  /** Another app over the same database with other settings. */
  .extend("otherApp", { scope: "file" }, async ({ fake }, { onCleanup }) => {
    const made: Deps[] = [];
    onCleanup(() => Promise.all(made.map((d) => d.db.end())).then(() => {}));
    return async (env: Record<string, string>, opts: AiAppOptions = {}, overrides: Partial<Omit<Deps, "config">> = {}) => {
      const d = await testDeps({ ...fake.env, ...FAST_ENV, ...env }, overrides);
      made.push(d);
      return createApp(d, opts);
    };
  })
  /** A clean slate per test: fake scripts, recorded requests, sleeps, provider health. */
  .extend("providers", async ({ fake, sleeps, sql }) => {
    fake.reset();
    sleeps.length = 0;
    await sql`delete from private.ai_provider_health`;
    return fake;
  });

// Values the PII module detects (checked below), fed through every route.
export const PII = {
  email: "ada.lovelace@example.com",
  phone: "+44 20 7946 0958",
  card: "4111 1111 1111 1111",
  iban: "DE89 3704 0044 0532 0130 00",
  ssn: "123-45-6789",
  address: "221B Baker Street",
  passport: "passport number X1234567",
};
