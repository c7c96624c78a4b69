// Environment parsed once, by one zod schema. Errors name the variable, never its value.
// Each capability declares its variables in its own fragment (./<area>.ts) merged here, so
// adding a function's settings is a change to its own file.
import { z } from "zod";
import { bool, csv, int } from "./types.ts";
import { aiConfig } from "./ai.ts";
import { complianceConfig } from "./compliance.ts";
import { oauthConfig } from "./oauth.ts";
import { webhooksConfig } from "./webhooks.ts";

export { bool, csv, int } from "./types.ts";

const hex64 = z.string().regex(/^[0-9a-fA-F]{64}$/, "must be exactly 64 hexadecimal characters");

/** `<version>:<64 hex>` entries, comma separated: master keys that reads still accept. */
const previousKeys = z.string().transform((v, ctx) => {
  const out: { version: number; hex: string }[] = [];
  for (const part of v.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d{1,6}):([0-9a-fA-F]{64})$/.exec(part);
    if (!m) {
      ctx.addIssue({ code: "custom", message: "each entry must be <version>:<64 hexadecimal characters>" });
      return z.NEVER;
    }
    out.push({ version: Number(m[1]), hex: m[2] });
  }
  return out;
});

export const configSchema = z.object({
  DATABASE_URL: z.string().url().optional(),
  SUPABASE_DB_URL: z.string().url().optional(),
  DB_POOL_MAX: int(1, 100).default(4),
  DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(10_000),
  DB_PREPARE: bool.default(true),
  // Each request's deadline for its database work: past it, 503 with Retry-After, nothing committed.
  REQUEST_DEADLINE_MS: int(100, 120_000).default(5_000),

  SUPABASE_URL: z.string().url().optional(),
  SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  SUPABASE_JWKS_URL: z.string().url().optional(),
  JWT_AUDIENCE: z.string().min(1).default("authenticated"),

  SECRET_MASTER_KEY: hex64,
  SECRET_MASTER_KEY_VERSION: int(1, 999_999).default(1),
  SECRET_MASTER_KEY_PREVIOUS: previousKeys.default([]),

  CORS_ALLOWED_ORIGINS: csv.default([]),
  // The client address (audit rows, limits) comes only from the header the platform's proxy sets.
  CLIENT_IP_HEADER: z.string().regex(/^[a-z0-9-]{1,64}$/i, "must be a header name").default("x-forwarded-for"),
  TRUSTED_PROXY_HOPS: int(1, 10).default(1),
  // Tokens living longer than this (exp - iat) are refused, whatever their signature.
  JWT_MAX_LIFETIME_SECONDS: int(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_BODY_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  SECRETS_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(60),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),

  WHATSAPP_VERIFY_TOKEN: z.string().min(8).optional(),
  WHATSAPP_APP_SECRET: csv.optional(),
  GRAPH_API_BASE_URL: z.string().url().default("https://graph.facebook.com"),
  GRAPH_API_VERSION: z.string().regex(/^v\d+\.\d+$/).default("v21.0"),
  GRAPH_API_TIMEOUT_MS: int(100, 60_000).default(10_000),
  REQUIRE_MFA_FOR_ADMIN_ACTIONS: bool.default(true),
  MESSAGES_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(100),

  ...aiConfig,
  ...oauthConfig,
  ...complianceConfig,
  ...webhooksConfig,
});

export type RawConfig = z.infer<typeof configSchema>;
export interface Config extends Omit<RawConfig, "DATABASE_URL" | "SUPABASE_DB_URL" | "SUPABASE_JWT_SECRET" | "JWT_SECRET"> {
  databaseUrl: string;
  jwtSecret?: string;
  jwksUrl?: string;
}

export class ConfigError extends Error {
  constructor(public readonly variables: string[], detail: string) {
    super(`Invalid configuration: ${detail}`);
    this.name = "ConfigError";
  }
}

/** Parse `env` (e.g. Deno.env.toObject() or process.env). Empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const cleaned: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v.trim() !== "") cleaned[key] = v.trim();
  }
  const parsed = configSchema.safeParse(cleaned);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const detail = parsed.error.issues
      .map((i) => `${String(i.path[0])} ${i.code === "invalid_type" ? "is required" : i.message}`)
      .join("; ");
    throw new ConfigError(names, detail);
  }
  const c = parsed.data;
  const databaseUrl = c.DATABASE_URL ?? c.SUPABASE_DB_URL;
  if (!databaseUrl) throw new ConfigError(["DATABASE_URL"], "DATABASE_URL is required (or SUPABASE_DB_URL)");
  const jwtSecret = c.SUPABASE_JWT_SECRET ?? c.JWT_SECRET;
  const jwksUrl = c.SUPABASE_JWKS_URL ?? (c.SUPABASE_URL ? new URL("/auth/v1/.well-known/jwks.json", c.SUPABASE_URL).href : undefined);
  if (!jwtSecret && !jwksUrl) {
    throw new ConfigError(["SUPABASE_JWT_SECRET"], "SUPABASE_JWT_SECRET (or JWT_SECRET, SUPABASE_JWKS_URL, SUPABASE_URL) is required");
  }
  if (c.SECRET_MASTER_KEY_PREVIOUS.some((k) => k.version === c.SECRET_MASTER_KEY_VERSION)) {
    throw new ConfigError(["SECRET_MASTER_KEY_PREVIOUS"], "SECRET_MASTER_KEY_PREVIOUS must not repeat SECRET_MASTER_KEY_VERSION");
  }
  const { DATABASE_URL: _d, SUPABASE_DB_URL: _s, SUPABASE_JWT_SECRET: _j, JWT_SECRET: _k, ...rest } = c;
  return { ...rest, databaseUrl, jwtSecret, jwksUrl };
}
