// POST / (create a distributor, the caller becomes OWNER) and GET / (mine, with my role).
// Neither acts for an existing distributor, so neither has a tenant gate: a user token is enough.
import { z } from "@hono/zod-openapi";
import { writeDataAccessAudit } from "../../../shared/audit/index.ts";
import type { Context, MiddlewareHandler } from "hono";
import { rateLimitHeaders, type RunOptions } from "../../../shared/db/index.ts";
import {
  ApiError, clientIp, countFailure, json, jsonBody, remembered, RESPONSE_HEADERS, route, userAgent, type AppEnv,
} from "../../../shared/http/index.ts";
import { createDistributor, type Role } from "../../../shared/tenancy/index.ts";
import { CreateDistributorBody, DistributorSchema, inOrder, pgCode, type RouteDeps } from "./common.ts";

/** Creations per user per minute: distributors are cheap to make and carry keys; stop floods. */
export const CREATE_LIMIT_PER_MINUTE = 10;

const { "Retry-After": _, ...RATE_LIMIT_HEADERS } = RESPONSE_HEADERS;

export function distributorRoutes({ deps, api, auth }: RouteDeps) {
  const { db, keyring } = deps;
  const createLimit = (c: Context<AppEnv>): RunOptions => remembered(c, {
    rateLimit: { key: `distributors:create:${c.get("user").id}`, limit: CREATE_LIMIT_PER_MINUTE, windowSeconds: 60 },
    onRateLimit: (s) => c.set("rateLimitHeaders", rateLimitHeaders(s)),
  });
  // Failed creations (a bad body included) count against the same limit.
  const countFailures: MiddlewareHandler<AppEnv> = async (c, next) => {
    await next();
    await countFailure(db, c, createLimit(c));
  };

  api.openapi(
    route({
      method: "post", path: "/", operationId: "createDistributor",
      middleware: [auth, countFailures] as const,
      summary: "Create a distributor; the caller becomes its OWNER",
      description: `Any signed-in user may create one. At most ${CREATE_LIMIT_PER_MINUTE} per user per minute.`,
      request: { body: jsonBody(CreateDistributorBody) },
      errors: ["rate_limited"],
      responses: { 201: json(DistributorSchema, "Created", RATE_LIMIT_HEADERS) },
    }),
    async (c) => {
      const { name } = c.req.valid("json");
      const user = c.get("user");
      const id = crypto.randomUUID();
      try {
        await db.withService(
          (tx) =>
            inOrder([
              createDistributor(tx, keyring, { id, name, ownerId: user.id }),
              writeDataAccessAudit(tx, {
                distributorId: id, userId: user.id, action: "distributor.create", tableName: "distributors", recordId: id,
                ip: clientIp(c), userAgent: userAgent(c), details: { distributor_id: id, user_id: user.id, role: "OWNER" },
              }),
            ]),
          createLimit(c),
        );
      } catch (err) {
        // A valid token whose user no longer exists in auth.users.
        if (pgCode(err) === "23503") throw new ApiError("unauthorized", {}, "token subject is not a user");
        throw err;
      }
      deps.logger.info("distributor.created", { requestId: c.get("requestId"), distributorId: id });
      return c.json({ id, name, role: "OWNER" as Role }, 201, c.get("rateLimitHeaders") ?? {});
    },
  );

  api.openapi(
    route({
      method: "get", path: "/", operationId: "listMyDistributors",
      middleware: [auth] as const,
      summary: "The distributors I belong to, with my role in each",
      responses: { 200: json(z.object({ distributors: z.array(DistributorSchema) }), "My distributors") },
    }),
    async (c) => {
      const user = c.get("user");
      // As the user: RLS shows only distributors and memberships of my own tenants.
      const rows = await db.withUser(user, (tx) =>
        tx<{ id: string; name: string; role: Role }[]>`
          select d.id, d.name, m.role
          from public.distributor_members m
          join public.distributors d on d.id = m.distributor_id
          where m.user_id = ${user.id}
          order by m.created_at, d.id`);
      return c.json({ distributors: rows.map((r) => ({ id: r.id, name: r.name, role: r.role })) }, 200);
    },
  );
}
