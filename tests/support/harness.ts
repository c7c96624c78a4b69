// Test wiring: real database, real migrations, real modules; only the environment is fixed.
import { inject } from "vitest";
import postgres from "postgres";
import { loadConfig, type Config } from "../../shared/config/index.ts";
import { createDeps, type Deps } from "../../shared/runtime/deps.ts";
import { createLogger } from "../../shared/log/index.ts";
import { ensureUser, signDevToken, type DevTokenOptions } from "../../scripts/lib/dev-tokens.ts";

export const TEST_JWT_SECRET = "test-jwt-secret-with-at-least-32-characters!!";
export const TEST_MASTER_KEY = "8f1c0d5e2a4b6c7d9e0f112233445566778899aabbccddeeff00112233445566";
export const ALLOWED_ORIGIN = "https://app.example.com";
export const TEST_WHATSAPP_APP_SECRET = "whatsapp-app-secret-for-tests";
export const TEST_WHATSAPP_VERIFY_TOKEN = "verify-token-for-tests";

export function testEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    DATABASE_URL: inject("databaseUrl"),
    SUPABASE_JWT_SECRET: TEST_JWT_SECRET,
    SECRET_MASTER_KEY: TEST_MASTER_KEY,
    CORS_ALLOWED_ORIGINS: `${ALLOWED_ORIGIN},https://admin.example.com`,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DB_POOL_MAX: "5",
    WHATSAPP_VERIFY_TOKEN: TEST_WHATSAPP_VERIFY_TOKEN,
    WHATSAPP_APP_SECRET: TEST_WHATSAPP_APP_SECRET,
    ...extra,
  };
}

export function testConfig(extra: Record<string, string> = {}): Config {
  return loadConfig(testEnv(extra));
}

export async function testDeps(extra: Record<string, string> = {}, overrides: Partial<Omit<Deps, "config">> = {}): Promise<Deps> {
  const config = testConfig(extra);
  return await createDeps(config, { logger: createLogger(config.LOG_LEVEL), ...overrides });
}

/** A superuser connection for arranging and asserting database state. */
export function adminSql(): postgres.Sql {
  return postgres(inject("databaseUrl"), { max: 2, onnotice: () => {} });
}

export async function newUser(sql: postgres.Sql, o: Partial<DevTokenOptions> = {}): Promise<{ id: string; token: string }> {
  const id = o.sub ?? crypto.randomUUID();
  await ensureUser(sql, id, o.email ?? `${id.slice(0, 8)}@example.test`);
  return { id, token: await signDevToken(TEST_JWT_SECRET, { sub: id, ...o }) };
}

export function bearer(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}
