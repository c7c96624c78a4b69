// Endpoints: register (SSRF-checked, secret shown once), list, change, delete, rotate the
// secret (the old one keeps signing for 24 h), and send a test event.
import { z } from "@hono/zod-openapi";
import type { Tx } from "../../../shared/db/index.ts";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import { sealFor } from "../../../shared/tenancy/keys.ts";
import { ROTATION_OVERLAP_SECONDS } from "../../../shared/webhooks/config.ts";
import { newSigningSecret } from "../../../shared/webhooks/signing.ts";
import { toIso } from "../../../shared/schemas/index.ts";
import {
  checkedUrl, CreatedEndpointSchema, CreateEndpointBody, DistributorHeader, EndpointParams, EndpointSchema, endpointOut, manage,
  UpdateEndpointBody, type EndpointRow, type RouteContext,
} from "./context.ts";

const COLUMNS = ["id", "url", "events", "description", "enabled", "disabled_reason", "previous_expires_at", "created_at", "updated_at"];
/** Endpoints per distributor. */
export const MAX_ENDPOINTS = 20;

export function endpointRoutes(api: Router, ctx: RouteContext) {
  const { deps, auth } = ctx;
  const cols = (tx: Tx) => tx(COLUMNS);

  api.openapi(
    route({
      method: "post", path: "/endpoints", operationId: "createWebhookEndpoint",
      summary: "Register an endpoint (webhooks.manage): https only, every address of its host public; answers the signing secret once",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, body: jsonBody(CreateEndpointBody) },
      errors: ["not_found", "forbidden", "conflict"],
      responses: { 201: json(CreatedEndpointSchema, "Registered; `secret` is never shown again") },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const t = c.get("tenant");
      const url = await checkedUrl(ctx, body.url);
      const id = crypto.randomUUID();
      const secret = newSigningSecret();
      const row = await t.transaction(async (tx) => {
        const keys = await t.keys(tx);
        const sealed = await sealFor(keys, "webhook_endpoints", id, secret);
        const [rows] = await Promise.all([
          tx<EndpointRow[]>`
            insert into public.webhook_endpoints (id, distributor_id, url, events, description, secret_encrypted, secret_iv, secret_key_version, created_by)
            select ${id}, ${t.id}, ${url}, ${body.events}::text[], ${body.description ?? null}, ${sealed.encryptedValue}, ${sealed.iv},
                   ${sealed.keyVersion}, ${t.user.id}
            where (select count(*) from public.webhook_endpoints where distributor_id = ${t.id}) < ${MAX_ENDPOINTS}
            returning ${cols(tx)}`,
          t.audit(tx, "webhook.endpoint.create", "webhook_endpoints", id, { events: body.events }),
        ]);
        if (!rows.length) throw new ApiError("conflict", {}, "too many endpoints");
        return rows[0];
      });
      deps.logger.info("webhook.endpoint.created", { requestId: c.get("requestId"), distributorId: t.id, endpointId: id });
      return c.json({ ...endpointOut(row, deps.now()), secret }, 201);
    },
  );

  api.openapi(
    route({
      method: "get", path: "/endpoints", operationId: "listWebhookEndpoints",
      summary: "The distributor's endpoints (webhooks.manage); secrets are never shown",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader },
      errors: ["not_found", "forbidden"],
      responses: { 200: json(z.object({ items: z.array(EndpointSchema) }).openapi("WebhookEndpointList"), "The endpoints") },
    }),
    async (c) => {
      const t = c.get("tenant");
      const rows = await t.transaction((tx) =>
        tx<EndpointRow[]>`select ${cols(tx)} from public.webhook_endpoints where distributor_id = ${t.id} order by created_at, id`
      );
      const now = deps.now();
      return c.json({ items: rows.map((r) => endpointOut(r, now)) }, 200);
    },
  );

  api.openapi(
    route({
      method: "patch", path: "/endpoints/{id}", operationId: "updateWebhookEndpoint",
      summary: "Change an endpoint's url, events, description or enabled (webhooks.manage); re-enabling clears its failure history",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, params: EndpointParams, body: jsonBody(UpdateEndpointBody) },
      errors: ["not_found", "forbidden"],
      responses: { 200: json(EndpointSchema, "The endpoint as changed") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const body = c.req.valid("json");
      const t = c.get("tenant");
      const url = body.url === undefined ? null : await checkedUrl(ctx, body.url);
      const enabled = body.enabled ?? null;
      const hasDescription = body.description !== undefined;
      const [row] = await t.transaction(async (tx) => {
        const [rows] = await Promise.all([
          tx<EndpointRow[]>`
            update public.webhook_endpoints set
              url = coalesce(${url}::text, url),
              events = coalesce(${body.events ?? null}::text[], events),
              description = case when ${hasDescription} then ${body.description ?? null}::text else description end,
              enabled = coalesce(${enabled}::boolean, enabled),
              disabled_reason = case when ${enabled}::boolean then null when not ${enabled}::boolean then 'user' else disabled_reason end,
              failing_since = case when ${enabled}::boolean then null else failing_since end,
              updated_at = ${deps.now()}
            where id = ${id} and distributor_id = ${t.id}
            returning ${cols(tx)}`,
          t.audit(tx, "webhook.endpoint.update", "webhook_endpoints", id, { fields: Object.keys(body).sort() }),
        ]);
        if (!rows.length) throw new ApiError("not_found", {}, "no such row"); // rolls the audit row back
        return rows;
      });
      if (!row) throw new ApiError("not_found", {}, "no such endpoint");
      return c.json(endpointOut(row, deps.now()), 200);
    },
  );

  api.openapi(
    route({
      method: "delete", path: "/endpoints/{id}", operationId: "deleteWebhookEndpoint",
      summary: "Delete an endpoint and its delivery history (webhooks.manage)",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, params: EndpointParams },
      errors: ["not_found", "forbidden"],
      responses: { 200: json(z.object({ id: z.string().uuid(), deleted: z.literal(true) }).openapi("WebhookEndpointDeleted"), "Deleted") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const t = c.get("tenant");
      const [row] = await t.transaction(async (tx) => {
        const [rows] = await Promise.all([
          tx<{ id: string }[]>`delete from public.webhook_endpoints where id = ${id} and distributor_id = ${t.id} returning id`,
          t.audit(tx, "webhook.endpoint.delete", "webhook_endpoints", id),
        ]);
        if (!rows.length) throw new ApiError("not_found", {}, "no such row"); // rolls the audit row back
        return rows;
      });
      if (!row) throw new ApiError("not_found", {}, "no such endpoint");
      return c.json({ id, deleted: true as const }, 200);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/endpoints/{id}/rotate-secret", operationId: "rotateWebhookSecret",
      summary: "A new signing secret (webhooks.manage), shown once; the previous one keeps signing beside it for 24 hours",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, params: EndpointParams },
      errors: ["not_found", "forbidden"],
      responses: {
        200: json(z.object({
          secret: z.string(),
          previous_secret_expires_at: z.string().openapi({ format: "date-time" }),
        }).openapi("RotatedWebhookSecret"), "The new secret, shown once"),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const t = c.get("tenant");
      const secret = newSigningSecret();
      const now = deps.now();
      const expires = new Date(now.getTime() + ROTATION_OVERLAP_SECONDS * 1000);
      const [row] = await t.transaction(async (tx) => {
        const keys = await t.keys(tx);
        const sealed = await sealFor(keys, "webhook_endpoints", id, secret);
        // The right-hand sides read the row as it was: the current secret becomes the previous one.
        const [rows] = await Promise.all([
          tx<{ id: string }[]>`
            update public.webhook_endpoints set
              previous_secret_encrypted = secret_encrypted, previous_secret_iv = secret_iv,
              previous_secret_key_version = secret_key_version, previous_expires_at = ${expires},
              secret_encrypted = ${sealed.encryptedValue}, secret_iv = ${sealed.iv}, secret_key_version = ${sealed.keyVersion},
              updated_at = ${now}
            where id = ${id} and distributor_id = ${t.id}
            returning id`,
          t.audit(tx, "webhook.secret.rotate", "webhook_endpoints", id),
        ]);
        if (!rows.length) throw new ApiError("not_found", {}, "no such row"); // rolls the audit row back
        return rows;
      });
      if (!row) throw new ApiError("not_found", {}, "no such endpoint");
      return c.json({ secret, previous_secret_expires_at: toIso(expires) }, 200);
    },
  );

  api.openapi(
    route({
      method: "post", path: "/endpoints/{id}/test", operationId: "testWebhookEndpoint",
      summary: "Queue a webhook.test event for this endpoint (webhooks.manage); the worker delivers it within seconds",
      middleware: [auth, manage(deps)] as const,
      request: { headers: DistributorHeader, params: EndpointParams },
      errors: ["not_found", "forbidden", "conflict"],
      responses: { 202: json(z.object({ delivery_id: z.string().uuid() }).openapi("WebhookTestQueued"), "Queued") },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const t = c.get("tenant");
      const deliveryId = crypto.randomUUID();
      const eventId = crypto.randomUUID();
      const now = deps.now();
      const [row] = await t.transaction(async (tx) => {
        const [rows] = await Promise.all([
          tx<{ enabled: boolean; inserted: boolean }[]>`
            with e as (select id, enabled from public.webhook_endpoints where id = ${id} and distributor_id = ${t.id}),
            ins as (
              insert into public.webhook_deliveries (id, distributor_id, endpoint_id, event_id, event_type, payload, next_attempt_at, created_at, updated_at)
              select ${deliveryId}, ${t.id}, e.id, ${eventId}, 'webhook.test',
                     jsonb_build_object('event_id', ${eventId}::text, 'endpoint_id', e.id), ${now}, ${now}, ${now}
              from e where e.enabled
              returning 1)
            select e.enabled, exists (select 1 from ins) as inserted from e`,
          t.audit(tx, "webhook.test", "webhook_endpoints", id),
        ]);
        if (!rows.length) throw new ApiError("not_found", {}, "no such row"); // rolls the audit row back
        return rows;
      });
      if (!row) throw new ApiError("not_found", {}, "no such endpoint");
      if (!row.inserted) throw new ApiError("conflict", {}, "endpoint disabled");
      return c.json({ delivery_id: deliveryId }, 202);
    },
  );
}
