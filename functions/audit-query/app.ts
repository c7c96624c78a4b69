// audit-query: who read what. A user's own secret audit log, a distributor's data-access audit,
// security incidents, and the computed compliance report; every read of an audit log is itself
// written to data_access_audit in the same transaction. Lists are keyset pages (opaque cursor,
// limit ≤ 500) over a time window of at most 366 days; format=csv streams every row of the window.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER } from "../../shared/tenancy/index.ts";
import { auditRoutes } from "./routes/audit.ts";
import { reportRoutes } from "./routes/report.ts";

export function createApp(deps: Deps) {
  const { logger } = deps;
  const api = createRouter();
  const auth = requireUser(deps.verifyToken, logger);
  auditRoutes(api, deps, auth);
  reportRoutes(api, deps, auth);
  return createFunctionApp(
    httpOptions("audit-query", deps, { noStore: true, extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "audit-query", description: "Audit logs (secrets, data access, security incidents), retention policy and the computed compliance report" },
  );
}
