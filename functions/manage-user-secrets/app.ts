// manage-user-secrets: the seed's contract (?action=save|list|get|has|delete), kept for
// existing frontends. Every operation, successful or not, leaves a secret_audit_logs row:
// successes in the operation's own transaction, failures in a second one after rollback.
import { createRoute, z } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import { requireUser } from "../../shared/auth/index.ts";
import { writeSecretAudit, type SecretOperation } from "../../shared/audit/index.ts";
import { rateLimitHeaders, type RateLimitColumn, type StatementOptions, type Tx } from "../../shared/db/index.ts";
import { ApiError, clientIp, createFunctionApp, createRouter, errorCatalog, userAgent, type AppEnv } from "../../shared/http/index.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
import {
  openSecret, sealSecret, secretValueSchema, SERVICE_NAMES, serviceNameSchema, type StoredSecret,
} from "../../shared/secrets/index.ts";

const ErrorBody = z.object({ error: z.string(), requestId: z.string() }).openapi("Error");
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

const errors = {
  400: { description: "Invalid request", content: { "application/json": { schema: ErrorBody } } },
  401: { description: "Authentication required", content: { "application/json": { schema: ErrorBody } } },
  404: { description: "Secret not found", content: { "application/json": { schema: ErrorBody } } },
  429: { description: "Too many requests", content: { "application/json": { schema: ErrorBody } } },
  500: { description: "Configuration or server error", content: { "application/json": { schema: ErrorBody } } },
};

type Ctx = Context<AppEnv>;

export function createApp(deps: Deps) {
  const { db, keyring, logger, config } = deps;
  const auth = requireUser(deps.verifyToken, logger);
  const api = createRouter();

  const runOptions = (c: Ctx): StatementOptions => ({
    rateLimit: { key: `secrets:${c.get("user").id}`, limit: config.SECRETS_RATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  });

  const audit = (c: Ctx, serviceName: string | null, operation: SecretOperation, success: boolean, error: string | null = null) =>
    (tx: Tx) =>
      writeSecretAudit(tx, {
        userId: c.get("user").id, serviceName, operation, ip: clientIp(c), userAgent: userAgent(c), success, error,
      });

  /** Run one operation as the user; on failure, record it in its own transaction and rethrow. */
  const operation = <T>(c: Ctx, serviceName: string | null, op: SecretOperation, fn: (tx: Tx) => Promise<T>): Promise<T> =>
    audited(c, serviceName, op, () => db.withUser(c.get("user"), fn, runOptions(c)));

  async function audited<T>(c: Ctx, serviceName: string | null, op: SecretOperation, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (err) {
      if (err instanceof ApiError && err.code === "rate_limited") throw err;
      const message = err instanceof ApiError ? errorCatalog[err.code].message : "Internal server error";
      await db.withUser(c.get("user"), audit(c, serviceName, op, false, message)).catch((auditErr) =>
        logger.error("audit.write_failed", { requestId: c.get("requestId"), errorCode: String((auditErr as { code?: string }).code ?? "") })
      );
      throw err;
    }
  }

  const invalid = async (c: Ctx, op: SecretOperation): Promise<never> => {
    await operation(c, null, op, () => Promise.reject(new ApiError("invalid_request", {}, "validation failed")));
    throw new Error("unreachable");
  };

  // Bodies are checked by the route schemas' types at the call sites below; the cast only
  // lifts Hono's per-route response typing, which cannot see through the action switch.
  // Hono's JSON validator rejects a malformed body before our hook runs: audit it here.
  const auditMalformedBody: MiddlewareHandler<AppEnv> = async (c, next) => {
    await next();
    if (c.error instanceof HTTPException && c.error.status === 400) {
      await invalid(c, c.req.query("action") === "delete" ? "delete" : "update").catch(() => {});
    }
  };

  const respond = <T extends object>(c: Ctx, body: T) => c.json(body, 200, c.get("rateLimitHeaders") ?? {}) as never;

  api.openapi(
    createRoute({
      method: "get", path: "/", middleware: [auth] as const,
      summary: "List secret metadata, read one secret, or check that one exists",
      request: { query: GetQuery },
      responses: {
        200: {
          description: "list: {secrets}; get: {value}; has: {exists}",
          content: {
            "application/json": {
              schema: z.union([
                z.object({ secrets: z.array(SecretMetadata) }),
                z.object({ value: z.string() }),
                z.object({ exists: z.boolean() }),
              ]),
            },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { action, serviceName } = c.req.valid("query");
      const uid = c.get("user").id;
      if (action === "list") {
        const secrets = await operation(c, null, "read", async (tx) => {
          const [rows] = await Promise.all([
            tx`select service_name, created_at, updated_at, last_used_at, is_active, metadata
               from public.user_secrets where user_id = ${uid} and is_active order by service_name`,
            audit(c, null, "read", true)(tx),
          ]);
          return rows;
        });
        return respond(c, { secrets });
      }
      if (!serviceName) return await invalid(c, "read");
      if (action === "has") {
        const exists = await operation(c, serviceName, "read", async (tx) => {
          const [[row]] = await Promise.all([
            tx<{ exists: boolean }[]>`select exists(select 1 from public.user_secrets
              where user_id = ${uid} and service_name = ${serviceName} and is_active) as exists`,
            audit(c, serviceName, "read", true)(tx),
          ]);
          return row.exists;
        });
        return respond(c, { exists });
      }
      // The hot path (every AI call of a frontend reads a key): one statement, see db.asUser.
      // A row that then fails to decrypt keeps its read audit row and gets a failure row too.
      const value = await audited(c, serviceName, "read", async () => {
        const [row] = await db.asUser(c.get("user"), (sql, request) =>
          sql<(StoredSecret & RateLimitColumn)[]>`select * from private.read_user_secret(
            ${request}, ${serviceName}, ${clientIp(c)}, ${userAgent(c)})`, runOptions(c));
        if (!row) throw new ApiError("secret_not_found");
        try {
          return await openSecret(keyring, row, uid, serviceName);
        } catch {
          throw new ApiError("internal", {}, "stored secret did not decrypt");
        }
      });
      return respond(c, { value });
    },
    (result, c) => (result.success ? undefined : invalid(c as Ctx, "read")),
  );

  api.openapi(
    createRoute({
      method: "post", path: "/", middleware: [auth, auditMalformedBody] as const,
      summary: "Save (upsert, re-activate) or soft-delete a secret",
      request: {
        query: PostQuery,
        body: { required: true, content: { "application/json": { schema: PostBody } } },
      },
      responses: {
        200: { description: "Done", content: { "application/json": { schema: z.object({ success: z.literal(true) }) } } },
        ...errors,
      },
    }),
    async (c) => {
      const { action } = c.req.valid("query");
      const { serviceName, value } = c.req.valid("json");
      const uid = c.get("user").id;
      if (action === "save") {
        if (value === undefined) return await invalid(c, "update");
        const sealed = await sealSecret(keyring, uid, serviceName, value);
        await operation(c, serviceName, "update", async (tx) => {
          const [row] = await tx`
            with up as (
              insert into public.user_secrets as s
                (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound, is_active, updated_at)
              values (${uid}, ${serviceName}, ${sealed.encryptedValue}, ${sealed.iv}, ${sealed.keyVersion}, true, true, now())
              on conflict (user_id, service_name) do update set
                encrypted_value = excluded.encrypted_value, initialization_vector = excluded.initialization_vector,
                key_version = excluded.key_version, aad_bound = true, is_active = true, updated_at = now()
              returning (xmax = 0) as inserted)
            select private.write_secret_audit(${uid}, ${serviceName},
              case when up.inserted then 'create' else 'update' end, ${clientIp(c)}, ${userAgent(c)}, true, null)
            from up`;
          if (!row) throw new ApiError("internal", {}, "upsert returned no row");
        });
        return respond(c, { success: true as const });
      }
      await operation(c, serviceName, "delete", async (tx) => {
        const [row] = await tx`
          with d as (
            update public.user_secrets set is_active = false, updated_at = now()
            where user_id = ${uid} and service_name = ${serviceName} and is_active returning id)
          select private.write_secret_audit(${uid}, ${serviceName}, 'delete', ${clientIp(c)}, ${userAgent(c)}, true, null)
          from d`;
        if (!row) throw new ApiError("secret_not_found");
      });
      return respond(c, { success: true as const });
    },
    (result, c) => (result.success ? undefined : invalid(c as Ctx, c.req.query("action") === "delete" ? "delete" : "update")),
  );

  return createFunctionApp(
    { name: "manage-user-secrets", logger, corsAllowedOrigins: config.CORS_ALLOWED_ORIGINS, maxBodyBytes: config.MAX_BODY_BYTES },
    api,
    { title: "manage-user-secrets", description: "Encrypted per-user API keys and OAuth tokens" },
  );
}
