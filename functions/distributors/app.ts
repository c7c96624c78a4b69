// distributors: create a distributor and list mine, manage members and their roles, connect a
// WhatsApp number, rotate the data key. User JWT on every route (verify_jwt = true).
//
// Every admin action checks, in this order: membership (404 for non-members and unknown or
// malformed ids, so other tenants' ids reveal nothing), role (403), multi-factor
// authentication when REQUIRE_MFA_FOR_ADMIN_ACTIONS is on (403), then the body (400). The
// check and the write share one transaction, and every permission change writes
// data_access_audit in it.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import type { Deps } from "../../shared/runtime/deps.ts";
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
    { name: "distributors", logger, corsAllowedOrigins: config.CORS_ALLOWED_ORIGINS, maxBodyBytes: config.MAX_BODY_BYTES },
    api,
    { title: "distributors", description: "Distributors (tenants), their members and roles, WhatsApp numbers and data keys" },
  );
}
