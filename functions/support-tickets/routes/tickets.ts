// POST / (anonymous or a user), GET / (a user's own tickets).
import { z } from "@hono/zod-openapi";
import { decodeJwt } from "jose/jwt/decode";
import type { MiddlewareHandler } from "hono";
import { open, seal } from "../../../shared/crypto/index.ts";
import { ApiError, clientIp, json, jsonBody, route, type AppEnv, type Router } from "../../../shared/http/index.ts";
import { cursorParam, page } from "../../../shared/http/cursor.ts";
import type { Deps } from "../../../shared/runtime/deps.ts";
import { isoTimestamps, toIso } from "../../../shared/schemas/index.ts";

/** Tickets one client IP may open (or attempt: invalid bodies and honeypot hits count) per hour. */
export const TICKETS_PER_IP_PER_HOUR = 5;
export const SUBJECT_MAX = 200;
export const BODY_MAX = 5000;
/** The honeypot: a field people never see (hidden by the form's CSS) and bots fill in. */
export const HONEYPOT_FIELD = "website";

const trimmed = (max: number) => z.string().transform((s) => s.trim()).pipe(z.string().min(1).max(max));

const NewTicket = z.object({
  subject: trimmed(SUBJECT_MAX).openapi({ type: "string", maxLength: SUBJECT_MAX, description: `1..${SUBJECT_MAX} characters` }),
  body: trimmed(BODY_MAX).openapi({ type: "string", maxLength: BODY_MAX, description: `1..${BODY_MAX} characters` }),
  email: z.email().max(254).openapi({ description: "Where support answers" }),
  [HONEYPOT_FIELD]: z.string().max(500).optional().openapi({ description: "Leave empty (honeypot: hidden from people)" }),
}).strict().openapi("NewSupportTicket");

const Created = z.object({ id: z.string(), status: z.literal("open"), created_at: z.string() }).openapi("SupportTicketCreated");

const Ticket = z.object({
  id: z.string(), subject: z.string(), body: z.string(), email: z.string(), status: z.enum(["open", "pending", "closed"]),
  contains_pii: z.boolean(), created_at: z.string(),
}).openapi("SupportTicket");

const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20).openapi({ param: { name: "limit", in: "query" } }),
  cursor: cursorParam(),
});

interface Sealed { subject: string; body: string; email: string }
const aad = (id: string) => `support_tickets:${id}`;

/**
 * No Authorization header, or the project's anon key (what supabase-js sends before sign-in):
 * anonymous. Any other bearer must be a valid user token (else 401), and attaches its user.
 */
function optionalUser(auth: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const header = c.req.header("authorization");
    if (!header) return await next();
    const token = /^Bearer\s+(\S+)$/i.exec(header.trim())?.[1];
    if (token) {
      try {
        if (decodeJwt(token).role === "anon" && !decodeJwt(token).sub) return await next();
      } catch {
        // not a JWT: requireUser answers 401
      }
    }
    return await auth(c, next);
  };
}

/** Counts the attempt against the client IP's hourly window before anything else (429 over it). */
function ipLimit(deps: Deps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const ip = clientIp(c) ?? "unknown"; // no usable address: one shared, strict bucket
    await deps.db.withService((tx) => tx`select 1`, {
      rateLimit: { key: `support_tickets:ip:${ip}`, limit: TICKETS_PER_IP_PER_HOUR, windowSeconds: 3600 },
    });
    await next();
  };
}

export function ticketRoutes(api: Router, deps: Deps, auth: MiddlewareHandler<AppEnv>): void {
  const { db, keyring, logger } = deps;

  api.openapi(route({
    method: "post", path: "/", tags: ["support"], operationId: "createSupportTicket",
    summary: `Open a support ticket: anonymous, or as the signed-in user (${TICKETS_PER_IP_PER_HOUR} per client IP per hour)`,
    description: "No Authorization header (or the anon key): an anonymous ticket. A user token attaches the ticket to its user; " +
      "an invalid token is 401. Subject, body and e-mail are stored sealed. Every attempt counts against the IP's hourly limit.",
    middleware: [optionalUser(auth), ipLimit(deps)] as const,
    request: { body: jsonBody(NewTicket) },
    errors: ["rate_limited"],
    responses: { 201: json(Created, "The ticket is open") },
  }), async (c) => {
    const input = c.req.valid("json");
    const user = c.get("user") as AppEnv["Variables"]["user"] | undefined;
    if (input[HONEYPOT_FIELD]) {
      // A bot: answer as if it worked, store nothing; the attempt was counted by ipLimit.
      logger.warn("support.honeypot", { requestId: c.get("requestId") });
      return c.json({ id: crypto.randomUUID(), status: "open" as const, created_at: deps.now().toISOString() }, 201);
    }
    const id = crypto.randomUUID();
    const doc: Sealed = { subject: input.subject, body: input.body, email: input.email };
    const s = await seal(keyring, JSON.stringify(doc), aad(id));
    const { detectPii } = await import("../../../shared/pii/index.ts"); // on first use, not at start
    const containsPii = detectPii(`${input.subject}\n${input.body}`).length > 0;
    const insert = (tx: Parameters<Parameters<typeof db.withService>[0]>[0]) => tx<{ created_at: string }[]>`
      insert into public.support_tickets (id, user_id, content_encrypted, content_iv, key_version, contains_pii)
      values (${id}, ${user ? tx`(select auth.uid())` : tx`null`}, ${s.encryptedValue}, ${s.iv}, ${s.keyVersion}, ${containsPii})
      returning to_json(created_at) #>> '{}' as created_at`;
    // A user's ticket is inserted as that user (RLS: own tickets only); an anonymous one as the service.
    const [row] = user ? await db.withUser(user, insert) : await db.withService(insert);
    logger.info("support.ticket_created", { requestId: c.get("requestId"), ticketId: id, anonymous: !user });
    return c.json({ id, status: "open" as const, created_at: toIso(row.created_at) }, 201);
  });

  api.openapi(route({
    method: "get", path: "/", tags: ["support"], operationId: "listMySupportTickets",
    summary: "The signed-in user's own tickets, newest first, decrypted",
    middleware: [auth] as const,
    request: { query: ListQuery },
    errors: [],
    responses: { 200: json(z.object({ items: z.array(Ticket), next_cursor: z.string().nullable() }).openapi("SupportTicketPage"), "A page") },
  }), async (c) => {
    const q = c.req.valid("query");
    const user = c.get("user");
    const rows = await db.withUser(user, (tx) => tx<{ id: string; content_encrypted: string; content_iv: string; key_version: number;
      status: "open" | "pending" | "closed"; contains_pii: boolean; created_at: string }[]>`
      select id, content_encrypted, content_iv, key_version, status, contains_pii, to_json(created_at) #>> '{}' as created_at
      from public.support_tickets
      where user_id = (select auth.uid())
        ${q.cursor ? tx`and (created_at, id) < (${q.cursor.ts}::text::timestamptz, ${q.cursor.id}::uuid)` : tx``}
      order by support_tickets.created_at desc, id desc limit ${q.limit + 1}`); // order by the column (index order), not the text alias
    const p = page(rows, q.limit, (r) => ({ ts: r.created_at, id: r.id }));
    const items = await Promise.all(p.items.map(async (r) => {
      let doc: Sealed;
      try {
        doc = JSON.parse(await open(keyring, { encryptedValue: r.content_encrypted, iv: r.content_iv, keyVersion: r.key_version }, aad(r.id)));
      } catch {
        throw new ApiError("internal", {}, `support ticket ${r.id} did not decrypt`);
      }
      return { id: r.id, subject: doc.subject, body: doc.body, email: doc.email, status: r.status, contains_pii: r.contains_pii, created_at: r.created_at };
    }));
    return c.json(isoTimestamps({ items, next_cursor: p.next_cursor }), 200);
  });
}
