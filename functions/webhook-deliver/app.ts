// webhook-deliver: the outbound webhook worker, run by a scheduler (pg_cron + pg_net on
// Supabase, a dev job under npm start). POST runs one pass (shared/webhooks/worker.ts): outbox
// events fanned out to subscribed endpoints, due deliveries claimed FOR UPDATE SKIP LOCKED,
// signed, sent and recorded; answers {claimed, delivered, failed}. Only the scheduler may call
// it: `Authorization: Bearer <CRON_SECRET>` or a service-role JWT (verify_jwt = false).
import { z } from "@hono/zod-openapi";
import { createFunctionApp, createRouter, json, route } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { urlPolicy } from "../../shared/webhooks/config.ts";
import { requireScheduler } from "../../shared/auth/index.ts";
import type { Sender } from "../../shared/webhooks/send.ts";
import { systemResolver, type Resolver } from "../../shared/webhooks/ssrf.ts";
import { runPass } from "../../shared/webhooks/worker.ts";
import { sendSecurityAlerts } from "../../shared/security/alerts.ts";

export interface DeliverOptions {
  resolve?: Resolver;
  send?: Sender;
  random?: () => number;
  timeoutMs?: number;
  batchSize?: number;
}

const PassSchema = z.object({
  claimed: z.number().int().openapi({ description: "Attempts claimed in this pass" }),
  delivered: z.number().int(),
  failed: z.number().int().openapi({ description: "Attempts that failed (retried later or dead-lettered)" }),
}).openapi("DeliveryPass");

export function createApp(deps: Deps, opts: DeliverOptions = {}) {
  const { logger, config } = deps;
  const policy = urlPolicy(config);
  const resolve = opts.resolve ?? systemResolver;
  const worker = {
    db: deps.db, tenantKeys: deps.tenantKeys, logger, now: deps.now, resolve, policy,
    send: opts.send, random: opts.random, timeoutMs: opts.timeoutMs, batchSize: opts.batchSize,
  };
  const api = createRouter();
  api.openapi(
    route({
      method: "post", path: "/", operationId: "runWebhookDelivery",
      summary: "Run one delivery pass (the scheduler: CRON_SECRET bearer or a service-role JWT)",
      middleware: [requireScheduler({ cronSecret: config.CRON_SECRET, jwtSecret: config.jwtSecret, jwksUrl: config.jwksUrl })] as const,
      responses: { 200: json(PassSchema, "What the pass did") },
    }),
    async (c) => {
      const result = await runPass(worker);
      await sendSecurityAlerts({ ...worker, config });
      logger.info("webhook.pass", { requestId: c.get("requestId"), ...result });
      return c.json(result, 200);
    },
  );
  return createFunctionApp(
    httpOptions("webhook-deliver", deps, { corsAllowedOrigins: [] }), // the scheduler only: no browser origin
    api,
    { title: "webhook-deliver", description: "The outbound webhook worker: one delivery pass per call (scheduler only)" },
  );
}
