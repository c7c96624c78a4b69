// retention-cleanup: POST / runs the retention cleanup (private.retention_cleanup, one batch per
// transaction) for platforms that schedule HTTP calls. verify_jwt = false: the caller presents
// `Authorization: Bearer <CRON_SECRET>` (compared in constant time) or a service-role JWT
// (signature, expiry and role checked); anything else is 401. One call works for at most
// RETENTION_MAX_ROWS_PER_RUN rows and about half the request deadline; `done: false` means the
// next call (or the next scheduled run) continues.
import { z } from "@hono/zod-openapi";
import { requireScheduler } from "../../shared/auth/index.ts";
import { ApiError, createFunctionApp, createRouter, json, route } from "../../shared/http/index.ts";
import { runRetentionCleanup } from "../../shared/compliance/retention.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";

const Result = z.object({
  run_id: z.string().nullable(),
  counts: z.record(z.string(), z.number().int()).openapi({ description: "Rows deleted per table by this call" }),
  total: z.number().int(),
  batches: z.number().int(),
  done: z.boolean().openapi({ description: "false: rows remain past their policy; call again" }),
}).openapi("RetentionCleanupResult");

export function createApp(deps: Deps) {
  const { logger, config } = deps;
  const api = createRouter();
  api.openapi(route({
    method: "post", path: "/", tags: ["retention"], operationId: "runRetentionCleanup",
    summary: "Delete rows past their retention policy, in bounded batches (Bearer CRON_SECRET or a service-role JWT)",
    description: "Every distributor with its own policy (retention_policies, else the defaults), plus expired rate-limit windows and other short-lived rows. " +
      "Each batch is its own transaction; the run is recorded in retention_runs.",
    middleware: [requireScheduler({ cronSecret: config.CRON_SECRET, jwtSecret: config.jwtSecret, jwksUrl: config.jwksUrl })] as const,
    responses: { 200: json(Result, "What this call deleted") },
  }), async (c) => {
    const r = await runRetentionCleanup(deps.db, {
      batch: config.RETENTION_BATCH_SIZE, maxRows: config.RETENTION_MAX_ROWS_PER_RUN, trigger: "http",
      timeBudgetMs: config.REQUEST_DEADLINE_MS / 2,
    });
    if (r.error) {
      logger.error("retention.failed", { requestId: c.get("requestId"), runId: r.run_id, error: r.error });
      throw new ApiError("internal", {}, `retention run ${r.run_id} failed: ${r.error}`);
    }
    logger.info("retention.run", { requestId: c.get("requestId"), runId: r.run_id, total: r.total, done: r.done });
    return c.json({ run_id: r.run_id, counts: r.counts, total: r.total, batches: r.batches, done: r.done }, 200);
  });
  return createFunctionApp(
    httpOptions("retention-cleanup", deps, { corsAllowedOrigins: [] }), // called by schedulers, never by browsers
    api,
    { title: "retention-cleanup", description: "Scheduled retention cleanup (cron over HTTP)" },
  );
}
