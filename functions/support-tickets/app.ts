// support-tickets (seed 000): anyone may open a ticket from the homepage (verify_jwt = false;
// POST /, anonymous, or a user JWT that attaches the ticket to its user), under strict limits:
// 5 per client IP per hour (Postgres-backed, every attempt counted), subject ≤ 200 and body ≤
// 5,000 characters, a validated e-mail, and a honeypot field (filled: a 201-looking answer,
// nothing stored, the attempt counted). What the person typed is sealed (master keyring, AAD
// support_tickets:<id>). GET / lists the signed-in user's own tickets, decrypted.
import { requireUser } from "../../shared/auth/index.ts";
import { createFunctionApp, createRouter } from "../../shared/http/index.ts";
import { httpOptions, type Deps } from "../../shared/runtime/deps.ts";
import { ticketRoutes } from "./routes/tickets.ts";

export function createApp(deps: Deps) {
  const api = createRouter();
  ticketRoutes(api, deps, requireUser(deps.verifyToken, deps.logger));
  return createFunctionApp(
    httpOptions("support-tickets", deps, { noStore: true }),
    api,
    { title: "support-tickets", description: "Support tickets: anonymous creation from the homepage (rate limited per IP), a user's own tickets" },
  );
}
