// messages: the Messages page API. Every route acts for the distributor named by the
// x-distributor-id header through the tenant gate (shared/tenancy/gate.ts): the caller must be
// a member (404 otherwise) whose role has the route's permission in the matrix of
// shared/tenancy (403 otherwise), judged before the request's input (400). Routes follow the
// one route style of shared/http/openapi.ts. Each route runs in one user transaction (RLS
// applies) with the membership read pipelined ahead of its statements; sending a WhatsApp
// message adds the Graph API call and a second, service transaction for its outcome.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { DISTRIBUTOR_HEADER, type RouteContext } from "./routes/context.ts";
import { conversationRoutes } from "./routes/conversations.ts";
import { customerRoutes } from "./routes/customers.ts";
import { messageRoutes } from "./routes/messages.ts";
import { orderRoutes } from "./routes/orders.ts";

export function createApp(deps: Deps) {
  const { logger, config } = deps;
  const api = createRouter();
  const ctx: RouteContext = { deps, auth: requireUser(deps.verifyToken, logger) };
  conversationRoutes(api, ctx);
  customerRoutes(api, ctx);
  orderRoutes(api, ctx);
  messageRoutes(api, ctx); // last: DELETE /{messageId} is a catch-all path
  return createFunctionApp(
    httpOptions("messages", deps, { noStore: true, extraAllowHeaders: [DISTRIBUTOR_HEADER] }),
    api,
    { title: "messages", description: "The Messages page API: conversations, messages, customers and orders of one distributor" },
  );
}
