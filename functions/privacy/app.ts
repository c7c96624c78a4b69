// privacy: a distributor's answers to its customers' access and erasure requests (GDPR/CCPA).
// POST /export gathers every record about one customer across the tables listed in
// shared/compliance (CUSTOMER_DATA), decrypted; POST /erase deletes them in one transaction and
// records the request in privacy_requests; GET /requests lists requests. All through the tenant
// gate (export: customers.export, erase: customers.erase, both aal2 and a live session).
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER } from "../../shared/tenancy/index.ts";
import { customerRoutes } from "./routes/customers.ts";

export function createApp(deps: Deps) {
  const { logger } = deps;
  const api = createRouter();
  api.use("*", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-store");
  });
  customerRoutes(api, deps, requireUser(deps.verifyToken, logger));
  return createFunctionApp(
    httpOptions("privacy", deps, { extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "privacy", description: "Privacy requests: export and erase everything about a distributor's customer; the request log" },
  );
}
