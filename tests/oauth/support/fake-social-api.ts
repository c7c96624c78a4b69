// Fake connector APIs on 127.0.0.1 (Buffer, Hootsuite, Later, Sprout Social) that check each
// request's format: method and path, where the token is (Bearer header or access_token),
// content type, and the body's exact field names (form vs JSON). A request in the wrong format
// gets 400; a token the fake authorization server did not issue gets 401. Failures can be
// scripted (status + headers) for the next calls. Every request is recorded raw.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { listen } from "./fake-auth-server.ts";

export type Kind = "buffer" | "hootsuite" | "later" | "sprout_social";

export interface RawRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

export interface FakeSocialApi {
  url: string;
  requests: RawRequest[];
  failNext(...f: { status: number; headers?: Record<string, string>; body?: string }[]): void;
  /** Metrics the analytics endpoint answers (the provider's own field names). */
  setStats(stats: Record<string, unknown> | null): void;
  close(): Promise<void>;
}

export const PROFILES: Record<Kind, unknown> = {
  buffer: [
    { id: "buf-tw", service: "twitter", formatted_username: "@acme", avatar_https: "https://img.example.com/b1.png" },
    { id: "buf-li", service: "linkedin", formatted_username: "Acme Inc" },
  ],
  hootsuite: { data: [
    { id: "hs-1", type: "TWITTER", socialNetworkUsername: "acme", avatarUrl: "https://img.example.com/h1.png" },
    { id: "hs-2", type: "FACEBOOKPAGE", socialNetworkUsername: "Acme Page" },
  ] },
  later: { social_profiles: [
    { id: "lt-ig", name: "acme.ig", network: "instagram", avatar_url: "https://img.example.com/l1.png" },
    { id: "lt-fb", name: "Acme", network: "facebook" },
  ] },
  sprout_social: { data: [
    { customer_profile_id: 101, name: "Acme LinkedIn", network_type: "linkedin_company" },
    { customer_profile_id: 102, name: "Acme X", network_type: "twitter" },
  ] },
};

const read = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
};
const sameKeys = (o: unknown, required: string[], optional: string[]) => {
  if (!o || typeof o !== "object" || Array.isArray(o)) return false;
  const keys = Object.keys(o);
  return required.every((k) => keys.includes(k)) && keys.every((k) => required.includes(k) || optional.includes(k));
};

/** `port`: listen there (default: any free port), e.g. for tests/oauth/serve-fakes.ts. */
export async function startFakeSocialApi(kind: Kind, isValidToken: (t: string) => boolean, port = 0): Promise<FakeSocialApi> {
  const requests: RawRequest[] = [];
  let failures: { status: number; headers?: Record<string, string>; body?: string }[] = [];
  let stats: Record<string, unknown> | null = null;
  let seq = 0;

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await read(req);
    const rec: RawRequest = { method: req.method ?? "", url: req.url ?? "", authorization: req.headers.authorization, contentType: req.headers["content-type"], body };
    requests.push(rec);
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(typeof payload === "string" ? payload : JSON.stringify(payload));
    };
    const f = failures.shift();
    if (f) return send(f.status, f.body ?? JSON.stringify({ error: "scripted", message: "SECRET-PROVIDER-TEXT" }), f.headers);
    const url = new URL(rec.url, "http://127.0.0.1");
    const bad = (why: string) => send(400, { error: "bad_format", why });

    // Where the token is: Buffer takes access_token (query on GET, form field on POST); the others Bearer only.
    let token: string | null;
    if (kind === "buffer") {
      if (rec.authorization) return bad("buffer takes access_token, not a header");
      token = req.method === "GET" ? url.searchParams.get("access_token") : new URLSearchParams(body).get("access_token");
    } else {
      if (url.searchParams.has("access_token")) return bad("token in the query");
      const m = /^Bearer (\S+)$/.exec(rec.authorization ?? "");
      token = m ? m[1] : null;
    }
    if (!token || !isValidToken(token)) return send(401, { error: "invalid_token", message: "SECRET-PROVIDER-TEXT" });
    if (req.method === "GET" && body !== "") return bad("GET with a body");

    const route = `${req.method} ${url.pathname}`;
    const json = () => {
      if (rec.contentType !== "application/json") return null;
      try {
        return JSON.parse(body);
      } catch {
        return null;
      }
    };
    switch (kind) {
      case "buffer":
        if (route === "GET /1/profiles.json") return send(200, PROFILES.buffer);
        if (route === "GET /1/user.json") return send(200, { id: "buffer-user-1", name: "Acme" });
        if (route === "POST /1/updates/create.json") {
          if (rec.contentType !== "application/x-www-form-urlencoded") return bad("not form-encoded");
          const form = new URLSearchParams(body);
          const keys = [...new Set(form.keys())];
          if (!keys.every((k) => ["access_token", "text", "profile_ids[]", "media[link]", "scheduled_at"].includes(k))) return bad("unknown field");
          if (!form.get("text") || form.getAll("profile_ids[]").length === 0) return bad("missing field");
          const at = form.get("scheduled_at");
          if (at !== null && !/^\d{10}$/.test(at)) return bad("scheduled_at not unix seconds");
          return send(200, {
            success: true, buffer_count: form.getAll("profile_ids[]").length, message: "One more post in your Buffer.",
            updates: form.getAll("profile_ids[]").map((p) => ({ id: `upd-${++seq}`, profile_id: p, status: "buffer" })),
          });
        }
        if (req.method === "GET" && /^\/1\/updates\/[^/]+\.json$/.test(url.pathname)) {
          return send(200, { id: url.pathname.slice(11, -5), ...(stats ? { statistics: stats } : {}) });
        }
        break;
      case "hootsuite":
        if (route === "GET /v1/socialNetworks") return send(200, PROFILES.hootsuite);
        if (route === "GET /v1/me") return send(200, { data: { id: "hs-member-1", email: "x@example.com" } });
        if (route === "POST /v1/messages") {
          const b = json();
          if (!sameKeys(b, ["text", "socialNetworkIds"], ["scheduledSendTime", "mediaUrls"]) || !Array.isArray(b.socialNetworkIds)) return bad("body");
          if (b.scheduledSendTime !== undefined && !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(b.scheduledSendTime)) return bad("scheduledSendTime");
          return send(200, { data: b.socialNetworkIds.map((id: string) => ({ id: `hsm-${++seq}`, state: b.scheduledSendTime ? "SCHEDULED" : "SENT", socialProfile: { id } })) });
        }
        if (req.method === "GET" && url.pathname.startsWith("/v1/messages/")) {
          return send(200, { data: [{ id: url.pathname.slice(13), state: "SENT", ...(stats ? { statistics: stats } : {}) }] });
        }
        break;
      case "later":
        if (route === "GET /v1/social_profiles") return send(200, PROFILES.later);
        if (route === "POST /v1/posts") {
          const b = json();
          if (!sameKeys(b, ["social_profile_id", "text"], ["media_url", "scheduled_at"])) return bad("body");
          return send(201, { post: { id: `lp-${++seq}`, social_profile_id: b.social_profile_id, status: b.scheduled_at ? "scheduled" : "published" } });
        }
        {
          const m = /^\/v1\/social_profiles\/([^/]+)\/posts\/([^/]+)$/.exec(url.pathname);
          if (req.method === "GET" && m) return send(200, { post: { id: m[2], social_profile_id: m[1], ...(stats ? { metrics: stats } : {}) } });
        }
        break;
      case "sprout_social":
        if (route === "GET /v1/customer/profiles") return send(200, PROFILES.sprout_social);
        if (route === "GET /v1/me") return send(200, { data: { customer_id: 9 } });
        if (route === "POST /v1/messages") {
          const b = json();
          if (!sameKeys(b, ["content", "profileIds"], ["scheduledTime", "mediaUrls"]) || !Array.isArray(b.profileIds)) return bad("body");
          return send(200, { data: [{ id: `sp-${++seq}`, profile_ids: b.profileIds }] });
        }
        if (req.method === "GET" && url.pathname.startsWith("/v1/messages/")) {
          return send(200, { data: [{ id: url.pathname.slice(13), ...(stats ? { metrics: stats } : {}) }] });
        }
        break;
    }
    return send(404, { error: "not_found" });
  });
  await listen(server, port);
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}`,
    requests,
    failNext: (...f) => void failures.push(...f),
    setStats: (s) => void (stats = s),
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}
