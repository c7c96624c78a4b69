// Everything a function needs, built once at start-up from the parsed config and passed in.
import { createTokenVerifier, type TokenVerifier } from "../auth/index.ts";
import { loadConfig, type Config } from "../config/index.ts";
import { createKeyring, type Keyring } from "../crypto/index.ts";
import { createDb, type Db } from "../db/index.ts";
import { deadlineAwareFetch, setDefaultRequestDeadline } from "../http/deadline.ts";
import { createLogger, type Logger } from "../log/index.ts";
import type { HttpOptions } from "../http/index.ts";
import { DistributorKeyCache } from "../tenancy/keys.ts";
import { createSecurityMonitor, type RequestMonitor } from "../security/monitor.ts";

export interface Deps {
  config: Config;
  db: Db;
  keyring: Keyring;
  verifyToken: TokenVerifier;
  /** Unwrapped per-distributor data and lookup keys, cached per instance. */
  tenantKeys: DistributorKeyCache;
  logger: Logger;
  fetch: typeof fetch;
  now: () => Date;
  /** Per-client-IP counting, blocks and incidents on every function (via httpOptions). */
  monitor: RequestMonitor;
}

export async function createDeps(config: Config, overrides: Partial<Omit<Deps, "config">> = {}): Promise<Deps> {
  const logger = overrides.logger ?? createLogger(config.LOG_LEVEL);
  setDefaultRequestDeadline(config.REQUEST_DEADLINE_MS);
  const db = overrides.db ?? createDb({
    url: config.databaseUrl,
    max: config.DB_POOL_MAX,
    statementTimeoutMs: config.DB_STATEMENT_TIMEOUT_MS,
    prepare: config.DB_PREPARE,
  });
  const keyring = overrides.keyring ??
    (await createKeyring(
      { version: config.SECRET_MASTER_KEY_VERSION, hex: config.SECRET_MASTER_KEY },
      config.SECRET_MASTER_KEY_PREVIOUS,
    ));
  return {
    config,
    logger,
    db,
    keyring,
    tenantKeys: overrides.tenantKeys ?? new DistributorKeyCache(db.sql, keyring),
    verifyToken: overrides.verifyToken ??
      createTokenVerifier({
        jwtSecret: config.jwtSecret, jwks: config.SUPABASE_JWKS, jwksUrl: config.jwksUrl, audience: config.JWT_AUDIENCE, maxLifetimeSeconds: config.JWT_MAX_LIFETIME_SECONDS,
      }),
    // Third-party calls have their own timeouts; the request's database deadline pauses meanwhile.
    fetch: deadlineAwareFetch(overrides.fetch ?? ((...a: Parameters<typeof fetch>) => fetch(...a))),
    now: overrides.now ?? (() => new Date()),
    monitor: overrides.monitor ?? (await createSecurityMonitor({ db, logger, config })),
  };
}

export async function depsFromEnv(env: Record<string, string | undefined>): Promise<Deps> {
  return await createDeps(loadConfig(env));
}

/**
 * The HTTP frame options of a function, from the configuration: every function builds its app
 * with `createFunctionApp(httpOptions("<name>", deps), api, doc)`, so CORS, body limit, client
 * address source and deadline are set in one place.
 */
export function httpOptions(name: string, deps: Deps, extra: Partial<HttpOptions> = {}): HttpOptions {
  const { config } = deps;
  return {
    name,
    logger: deps.logger,
    corsAllowedOrigins: config.CORS_ALLOWED_ORIGINS,
    maxBodyBytes: config.MAX_BODY_BYTES,
    clientIp: { header: config.CLIENT_IP_HEADER.toLowerCase(), trustedHops: config.TRUSTED_PROXY_HOPS },
    monitor: deps.monitor,
    ...extra,
  };
}
