// privacy: a distributor's answers to its customers' access and erasure requests (GDPR/CCPA).
// POST /export gathers every record about one customer across the tables listed in
// shared/compliance (CUSTOMER_DATA), decrypted; POST /erase deletes them in one transaction and
// records the request in privacy_requests; GET /requests lists requests. All through the tenant
// gate (export: customers.export, erase: customers.erase, both aal2 and a live session).
// POST /me/export and POST /me/erase (aal2): a social-app user's own data (routes/me.ts).
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER } from "../../shared/tenancy/index.ts";
import { customerRoutes } from "./routes/customers.ts";
import { meRoutes } from "./routes/me.ts";

export function createApp(deps: Deps) {
  const { logger } = deps;
  const api = createRouter();
  const auth = requireUser(deps.verifyToken, logger);
  customerRoutes(api, deps, auth);
  meRoutes(api, deps, auth);
  return createFunctionApp(
    httpOptions("privacy", deps, { noStore: true, extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "privacy", description: "Privacy requests: export and erase everything about a distributor's customer, or a social-app user's own data; the request log" },
  );
}
