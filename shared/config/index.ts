// Environment parsed once, by one zod schema. Errors name the variable, never its value.
// Each capability declares its variables in its own fragment (./<area>.ts) merged here, so
// adding a function's settings is a change to its own file.
//
// Start-up cost: a variable's zod schema is built and run only when the variable is set; an
// unset one takes its default without zod (./types.ts). When anything is wrong, the whole zod
// object schema is built and parsed, so every error is reported exactly as that schema reports it.
import { z } from "zod";
import { bool, csv, int, lazy, matching, oneOf, SKIP, splitCsv, text, url, type SchemaOf, type VarShape } from "./types.ts";
import { aiConfig } from "./ai.ts";
import { complianceConfig } from "./compliance.ts";
import { oauthConfig } from "./oauth.ts";
import { webhooksConfig } from "./webhooks.ts";

export { bool, csv, int, lazy, matching, num, oneOf, text, url } from "./types.ts";

const hex64 = () => matching(/^[0-9a-fA-F]{64}$/, "must be exactly 64 hexadecimal characters");

type PreviousKey = { version: number; hex: string };
/** The entries of SECRET_MASTER_KEY_PREVIOUS, or undefined at the first malformed one. */
function parsePreviousKeys(v: string): PreviousKey[] | undefined {
  const out: PreviousKey[] = [];
  for (const part of splitCsv(v)) {
    const m = /^(\d{1,6}):([0-9a-fA-F]{64})$/.exec(part);
    if (!m) return undefined;
    out.push({ version: Number(m[1]), hex: m[2] });
  }
  return out;
}

/** A variable read by `parse` (undefined: refused with `message`), the zod schema and the fast check alike. */
const parsedWith = <T extends object>(parse: (v: string) => T | undefined, message: string) =>
  lazy(() => z.string().transform((v, ctx) => {
    const out = parse(v);
    if (out !== undefined) return out;
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  }) as unknown as z.ZodType<T, string>, (v) => parse(v) ?? SKIP);

/** `<version>:<64 hex>` entries, comma separated: master keys that reads still accept. */
const previousKeys = () => parsedWith(parsePreviousKeys, "each entry must be <version>:<64 hexadecimal characters>");

const jwtSecret = () => text({ min: 32, message: "must be at least 32 characters" });

/** A JSON Web Key Set of public keys only. */
export interface PublicJwks {
  keys: Record<string, unknown>[];
}
/**
 * SUPABASE_JWKS as the Supabase platform sets it, `{"keys":[...]}` or a bare `[...]`, or undefined
 * when it is not that: not JSON, no keys, or a key that is not public (a symmetric `oct` key, or
 * one carrying private parameters such as `d`).
 */
function parseJwks(v: string): PublicJwks | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(v);
  } catch {
    return undefined;
  }
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) return undefined;
  for (const k of keys) {
    if (typeof k !== "object" || k === null || Array.isArray(k)) return undefined;
    if (!["RSA", "EC", "OKP"].includes((k as { kty?: unknown }).kty as string)) return undefined;
    if (["d", "p", "q", "dp", "dq", "qi", "k"].some((param) => param in k)) return undefined;
  }
  return { keys: keys as Record<string, unknown>[] };
}
const jwks = () => parsedWith(parseJwks, "must be a JSON Web Key Set of public keys ({\"keys\":[...]} or [...])");

const configVars = {
  DATABASE_URL: url().optional(),
  SUPABASE_DB_URL: url().optional(),
  DB_POOL_MAX: int(1, 100).default(4),
  DB_STATEMENT_TIMEOUT_MS: int(100, 600_000).default(10_000),
  DB_PREPARE: bool().default(true),
  // Each request's deadline for its database work: past it, 503 with Retry-After, nothing committed.
  REQUEST_DEADLINE_MS: int(100, 120_000).default(5_000),

  SUPABASE_URL: url().optional(),
  SUPABASE_JWT_SECRET: jwtSecret().optional(),
  JWT_SECRET: jwtSecret().optional(),
  SUPABASE_JWKS_URL: url().optional(),
  // The project's public keys inline (the platform sets it): no fetch on a cold start.
  SUPABASE_JWKS: jwks().optional(),
  JWT_AUDIENCE: text({ min: 1 }).default("authenticated"),

  SECRET_MASTER_KEY: hex64(),
  SECRET_MASTER_KEY_VERSION: int(1, 999_999).default(1),
  SECRET_MASTER_KEY_PREVIOUS: previousKeys().default([]),

  CORS_ALLOWED_ORIGINS: csv().default([]),
  // The client address (audit rows, limits) comes only from the header the platform's proxy sets.
  CLIENT_IP_HEADER: matching(/^[a-z0-9-]{1,64}$/i, "must be a header name").default("x-forwarded-for"),
  TRUSTED_PROXY_HOPS: int(1, 10).default(1),
  // Tokens living longer than this (exp - iat) are refused, whatever their signature.
  JWT_MAX_LIFETIME_SECONDS: int(60, 30 * 24 * 3600).default(24 * 3600),
  MAX_BODY_BYTES: int(1024, 10 * 1024 * 1024).default(64 * 1024),
  SECRETS_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(60),
  LOG_LEVEL: oneOf(["debug", "info", "warn", "error", "silent"]).default("info"),

  WHATSAPP_VERIFY_TOKEN: text({ min: 8 }).optional(),
  WHATSAPP_APP_SECRET: csv().optional(),
  GRAPH_API_BASE_URL: url().default("https://graph.facebook.com"),
  GRAPH_API_VERSION: matching(/^v\d+\.\d+$/).default("v21.0"),
  GRAPH_API_TIMEOUT_MS: int(100, 60_000).default(10_000),
  REQUIRE_MFA_FOR_ADMIN_ACTIONS: bool().default(true),
  MESSAGES_RATE_LIMIT_PER_MINUTE: int(1, 1_000_000).default(100),

  ...aiConfig,
  ...oauthConfig,
  ...complianceConfig,
  ...webhooksConfig,
} satisfies VarShape;

const varEntries = Object.entries(configVars as VarShape);

let schema: SchemaOf<typeof configVars> | undefined;
/** The whole configuration as one zod object schema (built on first call: errors, tests). */
export function configSchema(): SchemaOf<typeof configVars> {
  return schema ??= z.object(Object.fromEntries(varEntries.map(([k, v]) => [k, v.schema()]))) as SchemaOf<typeof configVars>;
}

export type RawConfig = z.infer<SchemaOf<typeof configVars>>;
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
  for (const [key] of varEntries) {
    const v = env[key];
    if (v !== undefined && v.trim() !== "") cleaned[key] = v.trim();
  }
  const c = parseVariables(cleaned);
  const databaseUrl = c.DATABASE_URL ?? c.SUPABASE_DB_URL;
  if (!databaseUrl) throw new ConfigError(["DATABASE_URL"], "DATABASE_URL is required (or SUPABASE_DB_URL)");
  const jwtSecret = c.SUPABASE_JWT_SECRET ?? c.JWT_SECRET;
  const jwksUrl = c.SUPABASE_JWKS_URL ?? (c.SUPABASE_URL ? new URL("/auth/v1/.well-known/jwks.json", c.SUPABASE_URL).href : undefined);
  if (!jwtSecret && !jwksUrl && !c.SUPABASE_JWKS) {
    throw new ConfigError(["SUPABASE_JWT_SECRET"], "SUPABASE_JWT_SECRET (or JWT_SECRET, SUPABASE_JWKS, SUPABASE_JWKS_URL, SUPABASE_URL) is required");
  }
  if (c.SECRET_MASTER_KEY_PREVIOUS.some((k) => k.version === c.SECRET_MASTER_KEY_VERSION)) {
    throw new ConfigError(["SECRET_MASTER_KEY_PREVIOUS"], "SECRET_MASTER_KEY_PREVIOUS must not repeat SECRET_MASTER_KEY_VERSION");
  }
  const { DATABASE_URL: _d, SUPABASE_DB_URL: _s, SUPABASE_JWT_SECRET: _j, JWT_SECRET: _k, ...rest } = c;
  return { ...rest, databaseUrl, jwtSecret, jwksUrl };
}

/** zod's shallow copy of a default (`.default([])` gives each parse its own array). */
function shallowClone<T>(value: T): T {
  if (Array.isArray(value)) return [...value] as T;
  if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) return { ...value };
  return value;
}

/**
 * What `configSchema().safeParse(cleaned)` gives, without building the schemas of unset variables:
 * each set variable is parsed by its own schema (as the object parses it); an unset one is left
 * out or takes its default. At the first failure, the whole object is parsed instead, so the
 * ConfigError is exactly the object schema's: every bad variable, in the same words.
 */
export function parseVariables(cleaned: Record<string, string>): RawConfig {
  const out: Record<string, unknown> = {};
  for (const [key, v] of varEntries) {
    if (Object.hasOwn(cleaned, key)) {
      const fast = v.fast?.(cleaned[key]) ?? SKIP;
      if (fast !== SKIP) {
        out[key] = fast;
        continue;
      }
      const r = v.schema().safeParse(cleaned[key]);
      if (!r.success) return parseWithObjectSchema(cleaned);
      out[key] = r.data;
    } else if (v.absent.kind === "default") {
      out[key] = shallowClone(v.absent.value);
    } else if (v.absent.kind === "required") {
      return parseWithObjectSchema(cleaned);
    }
  }
  return out as RawConfig;
}

function parseWithObjectSchema(cleaned: Record<string, string>): RawConfig {
  const parsed = configSchema().safeParse(cleaned);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const detail = parsed.error.issues
      .map((i) => `${String(i.path[0])} ${i.code === "invalid_type" ? "is required" : i.message}`)
      .join("; ");
    throw new ConfigError(names, detail);
  }
  return parsed.data;
}
