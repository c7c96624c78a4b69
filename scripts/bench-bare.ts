// The bare floor every benchmark ratio is taken against: Deno + Hono + postgres.js and nothing
// else (no middleware, no logging, no deadline). Modes (first argument):
//   select (default)  GET / answers one `select 1` from a pool of DB_POOL_MAX (default 4, like ours)
//   hello             GET / answers "hello" without importing postgres.js (cold-start baseline)
//   headers           as select, plus the 16 response headers the shared frame sends (security
//                     headers, CORS, request id): what those headers alone cost Deno's HTTP layer
import { Hono } from "hono";

declare const Deno: {
  args: string[];
  env: { get(k: string): string | undefined };
  addSignalListener(signal: "SIGTERM", handler: () => void): void;
  exit(code: number): never;
  serve(opts: { port: number; hostname: string; onListen?: () => void }, handler: (req: Request) => Response | Promise<Response>): unknown;
};

const mode = Deno.args[0] ?? "select";
const port = Number(Deno.env.get("PORT") ?? 8000);
const app = new Hono();
if (mode === "hello") {
  app.get("/", (c) => c.text("hello"));
} else {
  const { default: postgres } = await import("postgres");
  const sql = postgres(Deno.env.get("DATABASE_URL")!, { max: Number(Deno.env.get("DB_POOL_MAX") ?? 4), onnotice: () => {} });
  const extra: [string, string][] = mode !== "headers" ? [] : [
    ["Strict-Transport-Security", "max-age=63072000; includeSubDomains"], ["X-Content-Type-Options", "nosniff"],
    ["X-Frame-Options", "DENY"], ["Referrer-Policy", "no-referrer"], ["Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"],
    ["Cross-Origin-Resource-Policy", "same-origin"], ["Cross-Origin-Opener-Policy", "same-origin"], ["Origin-Agent-Cluster", "?1"],
    ["X-DNS-Prefetch-Control", "off"], ["X-Download-Options", "noopen"], ["X-Permitted-Cross-Domain-Policies", "none"], ["X-XSS-Protection", "0"],
    ["Access-Control-Expose-Headers", "X-Request-Id,Retry-After,RateLimit-Limit,RateLimit-Remaining,RateLimit-Reset,X-Export-Truncated,Content-Disposition"],
    ["Vary", "Origin"],
  ];
  app.get("/", async (c) => {
    const [row] = await sql`select 1 as one`;
    if (extra.length) {
      c.header("X-Request-Id", crypto.randomUUID());
      for (const [k, v] of extra) c.header(k, v);
    }
    return c.json({ one: row.one });
  });
}
// Exit normally on SIGTERM (so `--cpu-prof` writes its profile).
Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
Deno.serve({ port, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
