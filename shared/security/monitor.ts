// Security monitoring on every function (seed "Threat Detection"), mounted by createFunctionApp:
//
// - Every request from a client IP (clientIp(c): the platform's trusted header only) is counted
//   in a fixed 5-minute window, in memory and added to PostgreSQL in batches (./request-counts.ts:
//   no statement of its own on a request's path). More than SECURITY_IP_LIMIT requests → a
//   security_incidents row (rate_anomaly, high: also POSTed to SECURITY_ALERT_WEBHOOK_URL) and a
//   block of SECURITY_BLOCK_SECONDS, answered 429 {"error": "Too many requests"} with Retry-After
//   on every function, before the route. Requests without a client address (local calls) are not
//   counted.
// - SECURITY_TRUSTED_IPS (CIDRs) are never counted or blocked.
// - Meta's signed traffic is never counted or blocked: a POST to webhook-whatsapp whose
//   X-Hub-Signature-256 verifies with WHATSAPP_APP_SECRET passes; a wrong signature is counted
//   like anything else.
// - After the answer (failures only, one statement each): 401s count per
//   IP and per token subject (auth_failures), 403/404 to a signed-in user count as probing of
//   other tenants' ids (tenant_probing), and known scanner user agents open bad_user_agent.
//   Incidents carry ids, counts and the function name, never bodies or tokens.
import type { Context, MiddlewareHandler } from "hono";
import type { Config } from "../config/index.ts";
import type { Db } from "../db/index.ts";
import { ApiError } from "../http/errors.ts";
import { clientIp, type AppEnv } from "../http/index.ts";
import type { Logger } from "../log/index.ts";
import { isUuid } from "../uuid/index.ts";
import { base64UrlToText } from "../encoding/index.ts";
import { RequestCounter, WINDOW_SECONDS } from "./request-counts.ts";

export interface RequestMonitor {
  /** The middleware for function `name`. */
  middleware(name: string): MiddlewareHandler;
  /** Add the requests counted in memory to the database now (tests, shutdown). */
  flush(): Promise<void>;
}
/** 401s per IP (and per token subject) in a window before an auth_failures incident. */
export const AUTH_FAILURE_LIMIT = 20;
/** 403/404 answers to one signed-in caller's IP in a window before a tenant_probing incident. */
export const PROBE_LIMIT = 30;

/** Scanners and attack tools that announce themselves (matched case-insensitively in User-Agent). */
export const BAD_USER_AGENTS = [
  "sqlmap", "nikto", "nmap", "masscan", "zgrab", "nuclei", "dirbuster", "gobuster", "feroxbuster", "wpscan", "acunetix",
  "nessus", "openvas", "havij", "hydra", "wfuzz", "ffuf", "arachni", "w3af", "commix",
] as const;

export type MonitorConfig = Pick<
  Config,
  "SECURITY_MONITORING" | "SECURITY_IP_LIMIT" | "SECURITY_BLOCK_SECONDS" | "SECURITY_TRUSTED_IPS" | "WHATSAPP_APP_SECRET"
>;

export interface MonitorDeps {
  db: Db;
  logger: Logger;
  config: MonitorConfig;
}

/**
 * A matcher for SECURITY_TRUSTED_IPS (addresses and CIDR ranges, IPv4-mapped IPv6 as IPv4).
 * ipaddr.js is CommonJS: in Deno the first CommonJS module costs a cold start ~40 ms, so it is
 * loaded only when the list is not empty (the default is empty).
 */
export async function trustedMatcher(list: string[]): Promise<(ip: string) => boolean> {
  if (!list.length) return () => false;
  const { default: ipaddr } = await import("ipaddr.js");
  const ranges = list.map((s): ReturnType<typeof ipaddr.parseCIDR> => {
    if (s.includes("/")) return ipaddr.parseCIDR(s);
    const a = ipaddr.process(s);
    return [a, a.kind() === "ipv4" ? 32 : 128];
  });
  return (ip) => {
    if (!ipaddr.isValid(ip)) return false;
    const a = ipaddr.process(ip);
    return ranges.some(([net, bits]) => net.kind() === a.kind() && a.match(net as never, bits));
  };
}

export function badUserAgent(ua: string | undefined): string | null {
  if (!ua) return null;
  const l = ua.toLowerCase();
  return BAD_USER_AGENTS.find((b) => l.includes(b)) ?? null;
}

/** The `sub` of a bearer token, unverified: only a counting key for a token that failed. */
function tokenSubject(auth: string | undefined): string | null {
  const m = /^Bearer [A-Za-z0-9_-]+\.([A-Za-z0-9_-]+)\.[A-Za-z0-9_-]*$/.exec(auth ?? "");
  if (!m) return null;
  try {
    const sub = JSON.parse(base64UrlToText(m[1])).sub;
    return isUuid(sub) ? sub.toLowerCase() : null;
  } catch {
    return null;
  }
}

async function metaSigned(raw: Uint8Array, header: string | undefined, secrets: string[]): Promise<boolean> {
  const m = /^sha256=([0-9a-f]{64})$/i.exec(header ?? "");
  if (!m || !secrets.length) return false;
  const sig = Uint8Array.from(m[1].match(/../g)!.map((h) => parseInt(h, 16)));
  for (const s of secrets) {
    const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(s), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
    if (await crypto.subtle.verify("HMAC", key, sig, raw as Uint8Array<ArrayBuffer>)) return true;
  }
  return false;
}

export async function createSecurityMonitor(d: MonitorDeps): Promise<RequestMonitor> {
  const isTrusted = await trustedMatcher(d.config.SECURITY_TRUSTED_IPS);
  const metaSecrets = d.config.WHATSAPP_APP_SECRET ?? [];

  const requests = new RequestCounter({
    db: d.db, logger: d.logger, limit: d.config.SECURITY_IP_LIMIT, blockSeconds: d.config.SECURITY_BLOCK_SECONDS,
  });

  /** One counting statement of another incident type; answers the seconds to wait (0: go ahead). Fails open. */
  async function count(key: string, ip: string, user: string | null, type: string, severity: string, limit: number, block: number, details: Record<string, unknown>) {
    try {
      const [r] = await d.db.sql<{ wait: number }[]>`
        select private.security_count(${key}, ${ip}::inet, ${user}::uuid, ${type}, ${severity}, ${limit}, ${WINDOW_SECONDS},
                                      ${block}, ${d.db.sql.json(details as never)}) as wait`;
      return r.wait;
    } catch (err) {
      d.logger.warn("security.count_failed", { type, errorCode: String((err as { code?: string })?.code ?? "") });
      return 0;
    }
  }

  return {
    middleware(fn: string): MiddlewareHandler<AppEnv> {
      return async (c, next) => {
        if (!d.config.SECURITY_MONITORING) return await next();
        const ip = clientIp(c);
        if (!ip || isTrusted(ip)) return await next();
        if (fn === "webhook-whatsapp" && c.req.method === "POST" && c.req.header("x-hub-signature-256")) {
          let signed = false;
          try {
            signed = await metaSigned(new Uint8Array(await c.req.arrayBuffer()), c.req.header("x-hub-signature-256"), metaSecrets);
          } catch { /* an unreadable body is not Meta's */ }
          if (signed) return await next();
        }
        const wait = await requests.hit(ip, fn);
        if (wait > 0) throw new ApiError("rate_limited", { "Retry-After": String(wait) }, "client address blocked");
        const agent = badUserAgent(c.req.header("user-agent"));
        if (agent) await count(`ua:${ip}`, ip, null, "bad_user_agent", "medium", 0, 0, { fn, agent });
        await next();
        await countFailures(c, fn, ip);
      };
    },
    flush: () => requests.flush(),
  };

  /** What counts after the answer: failures only, so the common path costs nothing more. */
  async function countFailures(c: Context<AppEnv>, fn: string, ip: string): Promise<void> {
    const s = c.res.status;
    if (s === 401) {
      const sub = tokenSubject(c.req.header("authorization"));
      await Promise.all([
        count(`auth:ip:${ip}`, ip, null, "auth_failures", "medium", AUTH_FAILURE_LIMIT, 0, { fn, scope: "ip" }),
        sub ? count(`auth:user:${sub}`, ip, sub, "auth_failures", "medium", AUTH_FAILURE_LIMIT, 0, { fn, scope: "user" }) : null,
      ]);
    } else if ((s === 403 || s === 404) && c.get("user")) {
      const user = c.get("user").id;
      await count(`probe:${ip}`, ip, user, "tenant_probing", "medium", PROBE_LIMIT, 0, { fn });
    }
  }
}
