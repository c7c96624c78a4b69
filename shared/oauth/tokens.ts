// OAuth tokens in the user vault: user_secrets rows named <platform>_oauth_token, sealed exactly
// like manage-user-secrets seals them (shared/secrets: AES-GCM, AAD user+service, key version),
// each write and read with its secret_audit_logs row in the same transaction. Connection facts
// that are not secret (expiry, scopes, needs_reauth) go to oauth_connections.
//
// Refresh happens under a per-connection lock (a transaction-scoped advisory lock on user +
// platform): concurrent uses of one connection wait for the first, which refreshes; the others
// then find a fresh token and use it. Rotated refresh tokens are stored; invalid_grant marks the
// connection needs_reauth (committed) and the caller answers 409 Reconnection required.
import { secretAuditCall, writeSecretAudit } from "../audit/index.ts";
import type { Keyring } from "../crypto/index.ts";
import type { Db, Tx } from "../db/index.ts";
import { currentDeadline } from "../http/deadline.ts";
import { ApiError } from "../http/errors.ts";
import type { Logger } from "../log/index.ts";
import { openSecret, sealSecret, type StoredSecret } from "../secrets/index.ts";
import { OAuthFailure, refreshTokens, type ProtocolOptions, type TokenSet } from "./client.ts";
import type { ResolvedProvider } from "./providers.ts";

export interface AuditSource {
  ip: string | null;
  userAgent: string | null;
}
export const BACKEND: AuditSource = { ip: null, userAgent: "backend" };

export interface TokenDeps {
  db: Db;
  keyring: Keyring;
  logger: Logger;
  protocol: ProtocolOptions;
  refreshMarginSeconds: number;
}

/** Lock one connection for the rest of the transaction. */
export function lockConnection(tx: Tx, userId: string, platform: string) {
  return tx`select pg_advisory_xact_lock(hashtextextended(${`oauth:${userId}:${platform}`}, 0))`;
}

/** Seal and upsert the token set, update the connection, write the audit row: one transaction. */
export async function storeTokens(
  tx: Tx, keyring: Keyring, userId: string, p: ResolvedProvider, t: TokenSet, src: AuditSource, refreshed: boolean,
): Promise<void> {
  const sealed = await sealSecret(keyring, userId, p.serviceName, JSON.stringify(t));
  const scopes = t.scope ? t.scope.split(/[\s,]+/).filter(Boolean) : p.scopes;
  const [row] = await tx`
    with up as (
      insert into public.user_secrets as s
        (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound, is_active, updated_at)
      values (${userId}, ${p.serviceName}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion}, true, true, now())
      on conflict (user_id, service_name) do update set
        encrypted_value = excluded.encrypted_value, initialization_vector = excluded.initialization_vector,
        key_version = excluded.key_version, aad_bound = true, is_active = true, updated_at = now()
      returning (xmax = 0) as inserted),
    conn as (
      insert into public.oauth_connections as c (user_id, platform, needs_reauth, expires_at, scopes, connected_at, refreshed_at, updated_at)
      values (${userId}, ${p.platform}, false, ${t.expires_at}, ${scopes}, now(), ${refreshed ? tx`now()` : null}, now())
      on conflict (user_id, platform) do update set
        needs_reauth = false, expires_at = excluded.expires_at, scopes = excluded.scopes, updated_at = now(),
        connected_at = case when ${refreshed} then c.connected_at else now() end,
        refreshed_at = case when ${refreshed} then now() else c.refreshed_at end
      returning 1)
    select ${secretAuditCall(tx, {
      userId, serviceName: p.serviceName, operation: tx`case when up.inserted then 'create' else 'update' end`,
      ip: src.ip, userAgent: src.userAgent, success: true,
    })}
    from up, conn`;
  if (!row) throw new ApiError("internal", {}, "token upsert returned no row");
}

async function readStored(tx: Tx, userId: string, p: ResolvedProvider) {
  const [row] = await tx<(StoredSecret & { needs_reauth: boolean | null; refreshed_at: Date | null })[]>`
    select s.encrypted_value, s.initialization_vector, s.key_version, s.aad_bound, c.needs_reauth, c.refreshed_at
    from public.user_secrets s
    left join public.oauth_connections c on c.user_id = s.user_id and c.platform = ${p.platform}
    where s.user_id = ${userId} and s.service_name = ${p.serviceName} and s.is_active`;
  return row ?? null;
}

export async function openTokens(keyring: Keyring, row: StoredSecret, userId: string, p: ResolvedProvider): Promise<TokenSet> {
  let value: string;
  try {
    value = await openSecret(keyring, row, userId, p.serviceName);
  } catch {
    throw new ApiError("internal", {}, "stored token did not decrypt");
  }
  try {
    const t = JSON.parse(value) as Partial<TokenSet>;
    if (typeof t.access_token !== "string") throw new Error("shape");
    return {
      access_token: t.access_token, refresh_token: t.refresh_token ?? null, expires_at: t.expires_at ?? null,
      scope: t.scope ?? null, token_type: t.token_type ?? "bearer",
    };
  } catch {
    // A value saved by hand through manage-user-secrets: a bare access token.
    return { access_token: value, refresh_token: null, expires_at: null, scope: null, token_type: "bearer" };
  }
}

export function markNeedsReauth(tx: Tx, userId: string, platform: string) {
  return tx`
    insert into public.oauth_connections as c (user_id, platform, needs_reauth, updated_at)
    values (${userId}, ${platform}, true, now())
    on conflict (user_id, platform) do update set needs_reauth = true, updated_at = now()`;
}

export interface UseOptions {
  /** Refresh even when the token is not near expiry, unless another request refreshed it since `since`. */
  force?: boolean;
  since?: Date;
  src?: AuditSource;
}

/** The timeout of a refresh made inside a transaction that has run `elapsedMs` (see accessToken). */
export function refreshTimeout(configuredMs: number, elapsedMs: number, budgetMs = currentDeadline()?.budgetMs): number {
  if (budgetMs === undefined) return configuredMs; // no request deadline (scripts, jobs)
  const reserve = Math.max(250, budgetMs / 4);
  return Math.floor(Math.min(configuredMs, budgetMs - elapsedMs - reserve));
}

type Outcome = { kind: "ok"; token: string; refreshed: boolean } | { kind: "reauth"; why: string } | { kind: "not_connected" };

/**
 * The access token of a connection for an API call, refreshed first (under the lock) when it
 * expires within the margin. Throws 404 not_found when not connected, 409 reconnection_required
 * when the connection needs the user again, 502 upstream when the provider's token endpoint failed.
 */
export async function accessToken(d: TokenDeps, p: ResolvedProvider, userId: string, o: UseOptions = {}): Promise<{ token: string; refreshed: boolean }> {
  const src = o.src ?? BACKEND;
  const audit = (tx: Tx, operation: "read" | "update", success: boolean, error: string | null = null) =>
    writeSecretAudit(tx, { userId, serviceName: p.serviceName, operation, ip: src.ip, userAgent: src.userAgent, success, error });
  const outcome = await d.db.withService<Outcome>(async (tx) => {
    const began = performance.now();
    await lockConnection(tx, userId, p.platform);
    const row = await readStored(tx, userId, p);
    if (!row) return { kind: "not_connected" };
    if (row.needs_reauth) return { kind: "reauth", why: "marked" };
    const t = await openTokens(d.keyring, row, userId, p);
    const now = d.protocol.now();
    const expiresAt = t.expires_at ? Date.parse(t.expires_at) : null;
    const nearExpiry = expiresAt !== null && expiresAt - now.getTime() <= d.refreshMarginSeconds * 1000;
    const expired = expiresAt !== null && expiresAt <= now.getTime();
    const canRefresh = t.refresh_token !== null && p.refresh !== "none";
    // Another request refreshed this connection after ours began: its token is the one to use.
    const refreshedSince = !!(o.since && row.refreshed_at && row.refreshed_at.getTime() >= o.since.getTime());
    if (!canRefresh && expired) {
      // Expired with no way to refresh: the user has to connect again.
      await markNeedsReauth(tx, userId, p.platform);
      await audit(tx, "read", false, "Reconnection required");
      return { kind: "reauth", why: "expired" };
    }
    if (!canRefresh || refreshedSince || !(o.force || nearExpiry)) {
      await Promise.all([
        tx`update public.user_secrets set last_used_at = now() where user_id = ${userId} and service_name = ${p.serviceName}`,
        audit(tx, "read", true),
      ]);
      return { kind: "ok", token: t.access_token, refreshed: false };
    }
    let fresh: TokenSet;
    try {
      // The token endpoint is called inside this locked transaction (later arrivals must find the
      // fresh token). The request deadline pauses while it waits (bounded() in client.ts), but the
      // transaction must stay committable: shared/db commits only while the server's clock since
      // BEGIN is within the budget, and the server ends a transaction idle longer than it. So the
      // call gets OAUTH_HTTP_TIMEOUT_MS, or less: what the budget leaves after the work so far,
      // minus a reserve for storing the result and committing.
      const timeoutMs = refreshTimeout(d.protocol.timeoutMs, performance.now() - began);
      if (timeoutMs <= 0) throw new OAuthFailure("server_error", "upstream");
      fresh = await refreshTokens(p, { refresh_token: t.refresh_token!, scope: t.scope }, { ...d.protocol, timeoutMs });
    } catch (err) {
      const f = err instanceof OAuthFailure ? err : new OAuthFailure("server_error", "upstream");
      d.logger.warn("oauth.refresh_failed", { platform: p.platform, code: f.code, kind: f.kind });
      if (f.kind === "oauth" && (f.code === "invalid_grant" || f.code === "invalid_client")) {
        await markNeedsReauth(tx, userId, p.platform);
        await audit(tx, "update", false, "Reconnection required");
        return { kind: "reauth", why: f.code };
      }
      throw new ApiError("upstream", {}, `refresh failed (${f.code})`);
    }
    await storeTokens(tx, d.keyring, userId, p, fresh, src, true);
    d.logger.info("oauth.refreshed", { platform: p.platform, rotated: fresh.refresh_token !== t.refresh_token });
    return { kind: "ok", token: fresh.access_token, refreshed: true };
  });
  if (outcome.kind === "not_connected") throw new ApiError("not_found", {}, `${p.platform} not connected`);
  if (outcome.kind === "reauth") throw new ApiError("reconnection_required", {}, `${p.platform}: ${outcome.why}`);
  return { token: outcome.token, refreshed: outcome.refreshed };
}
