// webhooks: a distributor's outbound webhook endpoints (OWNER/ADMIN, permission webhooks.manage),
// their signing secrets (shown once, stored sealed under the distributor's data key), rotation,
// a test event, and the delivery history with manual redelivery. Deliveries themselves are made
// by webhook-deliver. Every route acts for the distributor in x-distributor-id through the tenant
// gate (404 not a member → 403 role lacks webhooks.manage → 400 input), in one user transaction
// (RLS applies) that also writes the audit row.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER } from "../../shared/tenancy/gate.ts";
import { urlPolicy } from "../../shared/webhooks/config.ts";
import { systemResolver, type Resolver } from "../../shared/webhooks/ssrf.ts";
import { deliveryRoutes } from "./routes/deliveries.ts";
import { endpointRoutes } from "./routes/endpoints.ts";

export interface WebhooksOptions {
  /** DNS for the SSRF checks (tests inject a stub). */
  resolve?: Resolver;
}

export function createApp(deps: Deps, opts: WebhooksOptions = {}) {
  const { logger, config } = deps;
  const api = createRouter();
  const ctx = { deps, auth: requireUser(deps.verifyToken, logger), policy: urlPolicy(config), resolve: opts.resolve ?? systemResolver };
  endpointRoutes(api, ctx);
  deliveryRoutes(api, ctx);
  return createFunctionApp(
    httpOptions("webhooks", deps, { noStore: true, extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "webhooks", description: "Outbound webhooks: endpoints, signing secrets, test events and delivery history" },
  );
}
