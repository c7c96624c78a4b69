// distributors: create a distributor and list mine, manage members and their roles, connect a
// WhatsApp number, rotate the data key. User JWT on every route (verify_jwt = true).
//
// The one route style (shared/http/openapi.ts): every route under /{id} has the tenant gate
// (shared/tenancy/gate.ts) as route middleware after auth, naming the permission it needs from
// the matrix in shared/tenancy/permissions.ts. The order is: 401 (token) → 404 (not a member,
// unknown or malformed id, so other tenants' ids reveal nothing) → 403 (role lacks the
// permission) → 403 mfa_required (sensitive permissions) → 400 (body, naming the failing
// fields). The check and the write share one transaction, and every change writes its
// data_access_audit row in it, through shared/audit.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { distributorRoutes } from "./routes/distributors.ts";
import { memberRoutes } from "./routes/members.ts";
import { settingsRoutes } from "./routes/settings.ts";

export function createApp(deps: Deps) {
  const { logger, config } = deps;
  const api = createRouter();
  const routeDeps = { deps, api, auth: requireUser(deps.verifyToken, logger) };
  distributorRoutes(routeDeps);
  memberRoutes(routeDeps);
  settingsRoutes(routeDeps);
  return createFunctionApp(
    httpOptions("distributors", deps),
    api,
    { title: "distributors", description: "Distributors (tenants), their members and roles, WhatsApp numbers and data keys" },
  );
}
