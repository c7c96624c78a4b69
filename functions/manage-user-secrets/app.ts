// manage-user-secrets: the seed's contract (?action=save|list|get|has|delete), kept for
// existing frontends. Every operation, successful or not, leaves a secret_audit_logs row:
// successes in the operation's own transaction, failures (after rollback) in a second one,
// written by one middleware around every route.
import { z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { requireUser } from "../../shared/auth/index.ts";
import { secretAuditCall, writeSecretAudit, type SecretOperation } from "../../shared/audit/index.ts";
import { rateLimitHeaders, type RateLimitColumn, type StatementOptions, type Tx } from "../../shared/db/index.ts";
import {
  ApiError, clientIp, createFunctionApp, createRouter, errorCatalog, errorCodeOf, type ErrorCode, json, jsonBody, RESPONSE_HEADERS, route, userAgent, type AppEnv,
} from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import {
  openSecret, sealSecret, secretValueSchema, SERVICE_NAMES, serviceNameSchema, type StoredSecret,
} from "../../shared/secrets/index.ts";

const SecretMetadata = z.object({
  service_name: z.enum(SERVICE_NAMES),
  created_at: z.string(),
  updated_at: z.string(),
  last_used_at: z.string().nullable(),
  is_active: z.boolean(),
  metadata: z.record(z.string(), z.unknown()),
}).openapi("SecretMetadata");

const GetQuery = z.object({
  action: z.enum(["list", "get", "has"]),
  serviceName: serviceNameSchema.optional(),
});
const PostQuery = z.object({ action: z.enum(["save", "delete"]) });
const PostBody = z.object({ serviceName: serviceNameSchema, value: secretValueSchema.optional() });

type Ctx = Context<AppEnv>;

/**
 * The audited operation of a failed request: `invalid` when the request itself was malformed
 * (unknown action, wrong content type, bad body), else the operation it attempted.
 */
function operationOf(c: Ctx, code: ErrorCode): SecretOperation {
  if (code === "invalid_request") return "invalid";
  if (c.req.method === "GET") return "read";
  return c.req.query("action") === "delete" ? "delete" : "update";
}

export function createApp(deps: Deps) {
  const { db, keyring, logger, config } = deps;
  const auth = requireUser(deps.verifyToken, logger);
  const api = createRouter();

  const runOptions = (c: Ctx): StatementOptions => ({
    rateLimit: { key: `secrets:${c.get("user").id}`, limit: config.SECRETS_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
    onRateLimit: (s) => {
      c.set("rateLimitHeaders", rateLimitHeaders(s));
      c.set("rateLimitCounted", true);
    },
  });

  const audit = (c: Ctx, serviceName: string | null, operation: SecretOperation, success: boolean, error: string | null = null) =>
    (tx: Tx) =>
      writeSecretAudit(tx, {
        userId: c.get("user").id, serviceName, operation, ip: clientIp(c), userAgent: userAgent(c), success, error,
      });

  /** The service a request names, if it names a valid one (for the failure row). */
  const serviceOf = async (c: Ctx): Promise<string | null> => {
    let name: unknown = c.req.query("serviceName");
    if (c.req.method === "POST") name = await c.req.json().then((b: { serviceName?: unknown }) => b?.serviceName, () => null);
    return serviceNameSchema.safeParse(name).success ? (name as string) : null;
  };

  /**
   * After every authenticated request: a failure (validation included) gets its
   * secret_audit_logs row in its own transaction, since the operation's rolled back — and is
   * counted against the caller's limit there first (unless its own statement already counted
   * it), so failing requests cannot flood the audit table. Over the limit: 429, unaudited.
   */
  const auditFailures: MiddlewareHandler<AppEnv> = async (c, next) => {
    await next();
    if (!c.error) return;
    const code = errorCodeOf(c.error);
    if (code === "rate_limited") return;
    const message = errorCatalog[code].message;
    const row = audit(c, await serviceOf(c), operationOf(c, code), false, message);
    try {
      await db.withUser(c.get("user"), row, c.get("rateLimitCounted") ? {} : runOptions(c));
    } catch (err) {
      if (errorCodeOf(err) === "rate_limited") throw err;
      logger.error("audit.write_failed", { requestId: c.get("requestId"), errorCode: String((err as { code?: string }).code ?? "") });
    }
  };

  /** Run one operation as the user, in one transaction with its rate-limit hit. */
  const operation = <T>(c: Ctx, fn: (tx: Tx) => Promise<T>): Promise<T> => db.withUser(c.get("user"), fn, runOptions(c));

  const respond = <T extends object>(c: Ctx, body: T) => c.json(body, 200, c.get("rateLimitHeaders") ?? {}) as never;
  const { "Retry-After": _, ...RESPONSE_HEADERS_200 } = RESPONSE_HEADERS;
  const noStore = { "Cache-Control": { description: "no-store", schema: { type: "string" as const } } };

  api.openapi(
    route({
      method: "get", path: "/", middleware: [auth, auditFailures] as const, operationId: "readSecrets",
      summary: "List secret metadata, read one secret, or check that one exists",
      description: "Call with GET (supabase-js: `functions.invoke('manage-user-secrets?action=list', { method: 'GET' })`).",
      request: { query: GetQuery },
      errors: ["secret_not_found", "rate_limited"],
      responses: {
        200: json(z.union([
          z.object({ secrets: z.array(SecretMetadata) }),
          z.object({ value: z.string() }),
          z.object({ exists: z.boolean() }),
        ]), "list: {secrets}; get: {value}; has: {exists}", { ...RESPONSE_HEADERS_200, ...noStore }),
      },
    }),
    async (c) => {
      const { action, serviceName } = c.req.valid("query");
      const uid = c.get("user").id;
      // The reads are one statement each (db.asUser): the rate-limit hit, the read as the user
      // and its audit row commit together (migration 20261202004500; get: read_user_secret).
      if (action === "list") {
        const [row] = await db.asUser(c.get("user"), (sql, request) =>
          sql<({ secrets: unknown[] } & RateLimitColumn)[]>`select * from private.list_user_secrets(
            ${request}, ${clientIp(c)}, ${userAgent(c)})`, runOptions(c));
        return respond(c, { secrets: row.secrets });
      }
      if (!serviceName) {
        throw new ApiError("invalid_request", {}, "serviceName missing", [{ in: "query", path: "serviceName", code: "missing" }]);
      }
      if (action === "has") {
        const [row] = await db.asUser(c.get("user"), (sql, request) =>
          sql<({ has_secret: boolean } & RateLimitColumn)[]>`select * from private.has_user_secret(
            ${request}, ${serviceName}, ${clientIp(c)}, ${userAgent(c)})`, runOptions(c));
        return respond(c, { exists: row.has_secret });
      }
      // The hot path (every AI call of a frontend reads a key).
      // A row that then fails to decrypt keeps its read audit row and gets a failure row too.
      const [row] = await db.asUser(c.get("user"), (sql, request) =>
        sql<(StoredSecret & RateLimitColumn)[]>`select * from private.read_user_secret(
          ${request}, ${serviceName}, ${clientIp(c)}, ${userAgent(c)})`, { ...runOptions(c), requireSession: true });
      c.set("rateLimitCounted", true); // the statement committed its hit, found or not
      if (!row) throw new ApiError("secret_not_found");
      let value: string;
      try {
        value = await openSecret(keyring, row, uid, serviceName);
      } catch {
        throw new ApiError("internal", {}, "stored secret did not decrypt");
      }
      return respond(c, { value });
    },
  );

  api.openapi(
    route({
      method: "post", path: "/", middleware: [auth, auditFailures] as const, operationId: "writeSecret",
      summary: "Save (upsert, re-activate) or soft-delete a secret",
      request: { query: PostQuery, body: jsonBody(PostBody) },
      errors: ["secret_not_found", "rate_limited"],
      responses: { 200: json(z.object({ success: z.literal(true) }), "Done", RESPONSE_HEADERS_200) },
    }),
    async (c) => {
      const { action } = c.req.valid("query");
      const { serviceName, value } = c.req.valid("json");
      const uid = c.get("user").id;
      if (action === "save") {
        if (value === undefined) {
          throw new ApiError("invalid_request", {}, "value missing", [{ in: "body", path: "value", code: "missing" }]);
        }
        const sealed = await sealSecret(keyring, uid, serviceName, value);
        await operation(c, async (tx) => {
          const [row] = await tx`
            with up as (
              insert into public.user_secrets as s
                (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound, is_active, updated_at)
              values (${uid}, ${serviceName}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion}, true, true, now())
              on conflict (user_id, service_name) do update set
                encrypted_value = excluded.encrypted_value, initialization_vector = excluded.initialization_vector,
                key_version = excluded.key_version, aad_bound = true, is_active = true, updated_at = now()
              returning (xmax = 0) as inserted)
            select ${secretAuditCall(tx, {
              userId: uid, serviceName, operation: tx`case when up.inserted then 'create' else 'update' end`,
              ip: clientIp(c), userAgent: userAgent(c), success: true,
            })}
            from up`;
          if (!row) throw new ApiError("internal", {}, "upsert returned no row");
        });
        return respond(c, { success: true as const });
      }
      await operation(c, async (tx) => {
        const [row] = await tx`
          with d as (
            update public.user_secrets set is_active = false, updated_at = now()
            where user_id = ${uid} and service_name = ${serviceName} and is_active returning id)
          select ${secretAuditCall(tx, { userId: uid, serviceName, operation: "delete", ip: clientIp(c), userAgent: userAgent(c), success: true })}
          from d`;
        if (!row) throw new ApiError("secret_not_found");
      });
      return respond(c, { success: true as const });
    },
  );

  return createFunctionApp(
    httpOptions("manage-user-secrets", deps, { noStore: true }),
    api,
    { title: "manage-user-secrets", description: "Encrypted per-user API keys and OAuth tokens" },
  );
}
