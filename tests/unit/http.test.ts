// shared/http: the frame every function shares.
import { describe, expect, it } from "vitest";
import { Hono, type Context } from "hono";
import { createRoute, z } from "@hono/zod-openapi";
import { ApiError, clientIp, createFunctionApp, createRouter, errorCatalog, readJson, supabaseClientHeaders, userAgent } from "../../shared/http/index.ts";
import { createLogger } from "../../shared/log/index.ts";
import { currentDeadline, Deadline, DEADLINE_TICK_MS, DeadlineExceeded, DEFAULT_DEADLINE_GRACE_MS } from "../../shared/http/deadline.ts";

const ORIGIN = "https://app.example.com";
const OTHER_ORIGIN = "https://admin.example.com";
const BASE = "http://localhost/functions/v1/unit-fn";

function makeApp(maxBodyBytes = 1024) {
  const logs: string[] = [];
  const logger = createLogger("debug", (l) => logs.push(l));
  const api = createRouter();
  api.get("/ok", (c) => c.json({ ok: true }));
  api.get("/boom", () => {
    throw new Error("secret detail");
  });
  api.get("/boom-coded", () => {
    throw Object.assign(new Error("db password=hunter2"), { code: "XX000" });
  });
  api.get("/api-error", () => {
    throw new ApiError("rate_limited", { "Retry-After": "7" }, "internal log detail");
  });
  api.post("/echo", async (c) => c.json({ got: await readJson(c) }));
  api.openapi(
    createRoute({
      method: "get", path: "/typed",
      request: { query: z.object({ n: z.coerce.number().int().min(1) }) },
      responses: { 200: { description: "ok", content: { "application/json": { schema: z.object({ n: z.number() }) } } } },
    }),
    (c) => c.json({ n: c.req.valid("query").n }, 200),
  );
  const app = createFunctionApp(
    { name: "unit-fn", logger, corsAllowedOrigins: [ORIGIN, OTHER_ORIGIN], maxBodyBytes, extraAllowHeaders: ["x-extra"] },
    api,
    { title: "unit-fn" },
  );
  return { app, logs };
}

async function expectErrorShape(res: Response, status: number, message: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  const body = await res.json();
  // 400s say which fields failed (paths and codes, never values); nothing else is ever added.
  expect(Object.keys(body).sort()).toEqual(status === 400 && body.issues ? ["error", "issues", "requestId"] : ["error", "requestId"]);
  expect(body.error).toBe(message);
  expect(body.requestId).toBe(res.headers.get("x-request-id"));
  return body;
}

describe("createFunctionApp", () => {
  it("mounts under /functions/v1/<name> and /<name>", async () => {
    const { app } = makeApp();
    expect(await (await app.request(`${BASE}/ok`)).json()).toEqual({ ok: true });
    expect(await (await app.request("http://localhost/unit-fn/ok")).json()).toEqual({ ok: true });
  });

  it("a thrown error becomes 500 'Internal server error' without its message, in body or logs", async () => {
    const { app, logs } = makeApp();
    const res = await app.request(`${BASE}/boom`);
    const text = await res.clone().text();
    await expectErrorShape(res, 500, "Internal server error");
    expect(text).not.toContain("secret detail");
    expect(logs.join("\n")).not.toContain("secret detail");
    const crashed = logs.map((l) => JSON.parse(l)).find((l) => l.event === "request.crashed");
    expect(crashed).toMatchObject({ level: "error", errorClass: "Error" });

    const res2 = await app.request(`${BASE}/boom-coded`);
    const text2 = await res2.clone().text();
    await expectErrorShape(res2, 500, "Internal server error");
    expect(text2).not.toContain("hunter2");
    expect(logs.join("\n")).not.toContain("hunter2");
    expect(logs.map((l) => JSON.parse(l)).find((l) => l.errorCode === "XX000")).toBeTruthy();
  });

  it("an ApiError keeps its status, generic message and headers; its log detail is not sent", async () => {
    const { app, logs } = makeApp();
    const res = await app.request(`${BASE}/api-error`);
    const text = await res.clone().text();
    await expectErrorShape(res, 429, "Too many requests");
    expect(res.headers.get("retry-after")).toBe("7");
    expect(text).not.toContain("internal log detail");
    expect(logs.some((l) => l.includes("internal log detail"))).toBe(true); // logged, not sent
  });

  it("schema validation failures become 400 'Invalid request' naming the field, not its value; the log names it too", async () => {
    const { app, logs } = makeApp();
    expect(await (await app.request(`${BASE}/typed?n=3`)).json()).toEqual({ n: 3 });
    const body = await expectErrorShape(await app.request(`${BASE}/typed?n=zero-secret-value`), 400, "Invalid request");
    expect(body.issues).toEqual([{ in: "query", path: "n", code: "invalid_type" }]);
    expect(JSON.stringify(body)).not.toContain("zero-secret-value");
    const failed = logs.map((l) => JSON.parse(l)).find((l) => l.event === "request.failed");
    expect(failed).toMatchObject({ status: 400, issues: "query:n:invalid_type" });
    expect(logs.join("\n")).not.toContain("zero-secret-value");
  });

  it("readJson rejects a non-JSON content type and invalid JSON with 400", async () => {
    const { app } = makeApp();
    const ok = await app.request(`${BASE}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"a":1}' });
    expect(await ok.json()).toEqual({ got: { a: 1 } });
    await expectErrorShape(await app.request(`${BASE}/echo`, { method: "POST", headers: { "content-type": "text/plain" }, body: "{}" }), 400, "Invalid request");
    await expectErrorShape(await app.request(`${BASE}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" }), 400, "Invalid request");
  });

  it("unknown paths → 404 JSON (inside and outside the mount)", async () => {
    const { app } = makeApp();
    await expectErrorShape(await app.request(`${BASE}/nope`), 404, "Not found");
    await expectErrorShape(await app.request("http://localhost/elsewhere"), 404, "Not found");
  });

  it("serves the OpenAPI document", async () => {
    const { app } = makeApp();
    const doc = await (await app.request(`${BASE}/openapi.json`)).json();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.servers).toEqual([{ url: "/functions/v1/unit-fn" }]);
  });
});

describe("CORS", () => {
  it("echoes an allowed origin exactly once, with Vary: Origin", async () => {
    const { app } = makeApp();
    for (const origin of [ORIGIN, OTHER_ORIGIN]) {
      const res = await app.request(`${BASE}/ok`, { headers: { origin } });
      expect(res.headers.get("access-control-allow-origin")).toBe(origin);
      expect(res.headers.get("vary")).toMatch(/\borigin\b/i);
    }
    // also on error responses
    const err = await app.request(`${BASE}/boom`, { headers: { origin: ORIGIN } });
    expect(err.headers.get("access-control-allow-origin")).toBe(ORIGIN);
  });

  it("sends no ACAO header to a disallowed or absent origin, and never '*'", async () => {
    const { app } = makeApp();
    const variants: Record<string, string>[] = [{ origin: "https://evil.example" }, { origin: "null" }, { origin: `${ORIGIN}.evil.example` }, { origin: "https://APP.example.com" }, {}];
    for (const headers of variants) {
      const res = await app.request(`${BASE}/ok`, { headers });
      expect(res.status).toBe(200);
      expect(res.headers.get("access-control-allow-origin")).toBeNull();
      expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    }
    const pre = await app.request(`${BASE}/ok`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(pre.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers preflight with 204, the Supabase client headers and the methods", async () => {
    const { app } = makeApp();
    const res = await app.request(`${BASE}/ok`, {
      method: "OPTIONS",
      headers: { origin: ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "authorization, x-client-info, apikey, content-type" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    const allowHeaders = (res.headers.get("access-control-allow-headers") ?? "").split(",").map((s) => s.trim().toLowerCase());
    for (const h of ["authorization", "x-client-info", "apikey", "content-type", "x-extra"]) expect(allowHeaders).toContain(h);
    expect(supabaseClientHeaders).toEqual(["authorization", "x-client-info", "apikey", "content-type"]);
    const methods = res.headers.get("access-control-allow-methods") ?? "";
    for (const m of ["GET", "POST", "PATCH", "DELETE"]) expect(methods).toContain(m);
    expect(res.headers.get("access-control-max-age")).toBe("600");
    expect(await res.text()).toBe("");
  });

  it("exposes the headers a browser client needs: request id, rate limits, export metadata", async () => {
    const { app } = makeApp();
    const res = await app.request(`${BASE}/ok`, { headers: { origin: ORIGIN } });
    const exposed = (res.headers.get("access-control-expose-headers") ?? "").toLowerCase().split(/,\s*/);
    for (const h of ["x-request-id", "retry-after", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "x-export-truncated", "content-disposition"]) {
      expect(exposed).toContain(h);
    }
  });
});

describe("body limit", () => {
  it("rejects bodies over the limit with 413 JSON, declared or streamed", async () => {
    const { app } = makeApp(1024);
    const big = JSON.stringify({ v: "x".repeat(2000) });
    await expectErrorShape(
      await app.request(`${BASE}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: big }),
      413, "Payload too large",
    );
    const stream = new ReadableStream({
      start(ctrl) {
        ctrl.enqueue(new TextEncoder().encode(big));
        ctrl.close();
      },
    });
    const res = await app.request(`${BASE}/echo`, {
      method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half",
    } as RequestInit);
    await expectErrorShape(res, 413, "Payload too large");
    const small = await app.request(`${BASE}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"v":"x"}' });
    expect(small.status).toBe(200);
  });
});

describe("security headers", () => {
  it("are present on success, error and 404 responses", async () => {
    const { app } = makeApp();
    for (const path of ["/ok", "/boom", "/missing"]) {
      const res = await app.request(`${BASE}${path}`);
      expect(res.headers.get("strict-transport-security"), path).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers.get("x-content-type-options"), path).toBe("nosniff");
      expect(res.headers.get("x-frame-options"), path).toBe("DENY");
      expect(res.headers.get("referrer-policy"), path).toBe("no-referrer");
      expect(res.headers.get("content-security-policy"), path).toMatch(/default-src 'none'/);
      expect(res.headers.get("content-security-policy"), path).toMatch(/frame-ancestors 'none'/);
      expect(res.headers.get("cross-origin-resource-policy"), path).toBe("same-origin");
      expect(res.headers.get("x-request-id"), path).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it("keeps a caller's X-Request-Id only when it is a UUID (no forged log lines)", async () => {
    const { app, logs } = makeApp();
    const mine = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b";
    expect((await app.request(`${BASE}/ok`, { headers: { "x-request-id": mine.toUpperCase() } })).headers.get("x-request-id")).toBe(mine);
    for (const forged of ["abc", 'x level=error"}', "a".repeat(36), `${mine} extra`]) {
      const res = await app.request(`${BASE}/ok`, { headers: { "x-request-id": forged } });
      const id = res.headers.get("x-request-id")!;
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(id).not.toBe(forged);
    }
    expect(logs.join("\n")).not.toContain("level=error");
  });

  it("every error code has a generic message and a matching status", () => {
    for (const [code, { status, message }] of Object.entries(errorCatalog)) {
      const e = new ApiError(code as keyof typeof errorCatalog);
      expect(e.status).toBe(status);
      expect(e.message).toBe(message);
    }
  });
});

describe("clientIp / userAgent", () => {
  const probe = new Hono();
  probe.get("/", (c: Context) => c.json({ ip: clientIp(c), ua: userAgent(c) }));
  const ipOf = async (headers: Record<string, string>) => (await (await probe.request("/", { headers })).json()).ip;

  it("takes the hop the platform's proxy appended (the last), never one the client wrote", async () => {
    expect(await ipOf({ "x-forwarded-for": "203.0.113.7, 10.0.0.1, 198.51.100.2" })).toBe("198.51.100.2");
    expect(await ipOf({ "x-forwarded-for": " 198.51.100.4 " })).toBe("198.51.100.4");
    expect(await ipOf({ "x-forwarded-for": "1.1.1.1, 2001:db8::1" })).toBe("2001:db8::1");
    // Not the platform's header: ignored.
    expect(await ipOf({ "x-real-ip": "192.0.2.9" })).toBeNull();
    expect(await ipOf({})).toBeNull();
  });

  it("reads the configured header and number of trusted hops", async () => {
    const logger = createLogger("silent");
    const api = createRouter();
    api.get("/ip", (c) => c.json({ ip: clientIp(c) }));
    const ip = async (clientIpSource: { header: string; trustedHops: number }, headers: Record<string, string>) => {
      const app = createFunctionApp({ name: "ipfn", logger, corsAllowedOrigins: [], maxBodyBytes: 1024, clientIp: clientIpSource }, api, { title: "ipfn" });
      return (await (await app.request("http://localhost/functions/v1/ipfn/ip", { headers })).json()).ip;
    };
    expect(await ip({ header: "x-forwarded-for", trustedHops: 2 }, { "x-forwarded-for": "6.6.6.6, 203.0.113.9, 10.0.0.1" })).toBe("203.0.113.9");
    expect(await ip({ header: "cf-connecting-ip", trustedHops: 1 }, { "cf-connecting-ip": "192.0.2.1", "x-forwarded-for": "6.6.6.6" })).toBe("192.0.2.1");
    expect(await ip({ header: "x-forwarded-for", trustedHops: 3 }, { "x-forwarded-for": "192.0.2.1" })).toBeNull();
  });

  it("rejects garbage", async () => {
    for (const bad of ["not-an-ip", "999.1.1.1", "1.2.3", "1.2.3.4.5", "' or 1=1 --", "1.2.3.4; drop table x", ":::::::::", "gggg::1", "a".repeat(60), "1.2.3.4, unknown", "<script>"]) {
      expect(await ipOf({ "x-forwarded-for": bad }), bad).toBeNull();
    }
  });

  it("truncates the user agent to 512 characters", async () => {
    const ua = (await (await probe.request("/", { headers: { "user-agent": "u".repeat(2000) } })).json()).ua;
    expect(ua).toHaveLength(512);
  });
});

describe("PostgreSQL errors caused by input (safety net behind validation)", () => {
  const pgError = (code: string, detail = "") => Object.assign(new Error(`db said ${code}: secret`), { code, detail });
  const app = () => {
    const logs: string[] = [];
    const logger = createLogger("debug", (l) => logs.push(l));
    const api = createRouter();
    api.get("/pg/:code", (c) => {
      const code = c.req.param("code");
      throw pgError(code, code === "23503" && c.req.query("users") ? 'Key (user_id)=(x) is not present in table "users".' : "Key (x)=(y) is not present in table \"customers\".");
    });
    return { app: createFunctionApp({ name: "pgfn", logger, corsAllowedOrigins: [], maxBodyBytes: 1024 }, api, { title: "pgfn" }), logs };
  };

  it("data exceptions (class 22) answer 400, logged as input errors, never 500", async () => {
    const { app: a, logs } = app();
    for (const code of ["22P05", "22P02", "22008", "22007", "22003", "22021"]) {
      const res = await a.request(`http://localhost/functions/v1/pgfn/pg/${code}`);
      expect([code, res.status]).toEqual([code, 400]);
      expect((await res.json()).error).toBe("Invalid request");
    }
    expect(logs.map((l) => JSON.parse(l)).filter((l) => l.event === "request.input_error")).toHaveLength(6);
    expect(logs.join("\n")).not.toContain("secret");
  });

  it("a foreign key to a deleted user answers 401; to another missing row 400; other errors stay 500", async () => {
    const { app: a } = app();
    expect((await a.request("http://localhost/functions/v1/pgfn/pg/23503?users=1")).status).toBe(401);
    expect((await a.request("http://localhost/functions/v1/pgfn/pg/23503")).status).toBe(400);
    expect((await a.request("http://localhost/functions/v1/pgfn/pg/XX000")).status).toBe(500);
    // A statement cancelled by the server's timeout, or the server going away: 503, retry later.
    for (const code of ["57014", "57P01", "08006"]) {
      const res = await a.request(`http://localhost/functions/v1/pgfn/pg/${code}`);
      expect([code, res.status, res.headers.get("retry-after")]).toEqual([code, 503, "1"]);
    }
    expect((await a.request("http://localhost/functions/v1/pgfn/pg/40P01")).status).toBe(500);
  });
});

// Issue 10: the frame is one middleware now; the headers every kind of answer carries are pinned
// exactly (names and values), as the hono secureHeaders + cors middleware set them before.
describe("the frame's headers, exactly", () => {
  const SECURITY = {
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "origin-agent-cluster": "?1",
    "referrer-policy": "no-referrer",
    "strict-transport-security": "max-age=63072000; includeSubDomains",
    "x-content-type-options": "nosniff",
    "x-dns-prefetch-control": "off",
    "x-download-options": "noopen",
    "x-frame-options": "DENY",
    "x-permitted-cross-domain-policies": "none",
    "x-xss-protection": "0",
  };
  const EXPOSE = "X-Request-Id,Retry-After,RateLimit-Limit,RateLimit-Remaining,RateLimit-Reset,X-Export-Truncated,Content-Disposition";
  const headersOf = (res: Response) => {
    const o = Object.fromEntries(res.headers);
    expect(o["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    delete o["x-request-id"];
    return o;
  };

  it("success, thrown error, ApiError with its own header, 404 outside the mount, 413: security + CORS + request id", async () => {
    const { app } = makeApp(16);
    const cases: [string, RequestInit, number, Record<string, string>][] = [
      [`${BASE}/ok`, {}, 200, {}],
      [`${BASE}/boom`, {}, 500, {}],
      [`${BASE}/api-error`, {}, 429, { "retry-after": "7" }],
      ["http://localhost/elsewhere", {}, 404, {}],
      [`${BASE}/echo`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ v: "x".repeat(64) }) }, 413, {}],
    ];
    for (const [url, init, status, extra] of cases) {
      for (const origin of [ORIGIN, "https://evil.example", undefined]) {
        const res = await app.request(url, { ...init, headers: { ...(init.headers as Record<string, string>), ...(origin ? { origin } : {}) } });
        expect([url, res.status]).toEqual([url, status]);
        expect(headersOf(res)).toEqual({
          ...SECURITY,
          ...extra,
          "content-type": "application/json",
          "access-control-expose-headers": EXPOSE,
          vary: "Origin",
          ...(origin === ORIGIN ? { "access-control-allow-origin": ORIGIN } : {}),
        });
      }
    }
  });

  it("preflight: 204 with the security headers, the CORS answer and no body", async () => {
    const { app } = makeApp();
    for (const origin of [ORIGIN, "https://evil.example"]) {
      const res = await app.request(`${BASE}/ok`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST" } });
      expect(res.status).toBe(204);
      expect(await res.text()).toBe("");
      expect(headersOf(res)).toEqual({
        ...SECURITY,
        "access-control-expose-headers": EXPOSE,
        "access-control-max-age": "600",
        "access-control-allow-methods": "GET,POST,PATCH,DELETE,OPTIONS",
        "access-control-allow-headers": "authorization,x-client-info,apikey,content-type,x-extra",
        vary: "Origin, Access-Control-Request-Headers",
        ...(origin === ORIGIN ? { "access-control-allow-origin": ORIGIN } : {}),
      });
    }
  });

  it("a handler's own Response (immutable headers) still gets every header", async () => {
    const logger = createLogger("silent");
    const api = createRouter();
    api.get("/raw", () => Response.redirect("https://example.com/next", 302));
    const app = createFunctionApp({ name: "raw-fn", logger, corsAllowedOrigins: [ORIGIN], maxBodyBytes: 64 }, api, { title: "raw" });
    const res = await app.request("http://localhost/functions/v1/raw-fn/raw", { headers: { origin: ORIGIN } });
    expect(res.status).toBe(302);
    expect(headersOf(res)).toEqual({
      ...SECURITY,
      location: "https://example.com/next",
      "access-control-expose-headers": EXPOSE,
      "access-control-allow-origin": ORIGIN,
      vary: "Origin",
    });
  });

  it("one log line per request with id, function, method, status and duration, never the path or query", async () => {
    const { app, logs } = makeApp();
    const res = await app.request(`${BASE}/ok?token=secret-value`, { headers: { authorization: "Bearer secret-token" } });
    const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.event === "request");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "info", requestId: res.headers.get("x-request-id"), fn: "unit-fn", method: "GET", status: 200 });
    expect(typeof lines[0].ms).toBe("number");
    expect(logs.join("\n")).not.toMatch(/secret-(value|token)/);
  });
});

// Issue 10: deadlines have no timer of their own (one shared sweeper); the frame still answers a
// handler that outlives its deadline with 503 + Retry-After, decorated like every answer.
describe("the request deadline (shared sweeper)", () => {
  it("a handler still busy after the deadline + grace gets 503 with Retry-After, the error shape and every header", async () => {
    const logs: string[] = [];
    const api = createRouter();
    let seen: Deadline | undefined;
    api.get("/stuck", async (c) => {
      seen = currentDeadline();
      await new Promise((r) => setTimeout(r, 1_500));
      return c.json({ late: true });
    });
    const app = createFunctionApp(
      { name: "slow-fn", logger: createLogger("debug", (l) => logs.push(l)), corsAllowedOrigins: [ORIGIN], maxBodyBytes: 64, deadlineMs: 50 },
      api,
      { title: "slow" },
    );
    const started = performance.now();
    const res = await app.request("http://localhost/functions/v1/slow-fn/stuck", { headers: { origin: ORIGIN } });
    const took = performance.now() - started;
    expect(res.status).toBe(503);
    expect(took).toBeGreaterThanOrEqual(50 + DEFAULT_DEADLINE_GRACE_MS - 5);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("access-control-allow-origin")).toBe(ORIGIN);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
    const body = await res.json();
    expect(body).toEqual({ error: errorCatalog.unavailable.message, requestId: res.headers.get("x-request-id") });
    expect(seen?.passed).toBe(true);
    const events = logs.map((l) => JSON.parse(l));
    expect(events.find((e) => e.event === "request.deadline")).toMatchObject({ fn: "slow-fn", status: 503, requestId: body.requestId });
    expect(events.find((e) => e.event === "request")).toMatchObject({ status: 503 });
  });

  it("fires once when its budget runs out; a disposed or suspended deadline does not fire", async () => {
    const fired: string[] = [];
    const a = new Deadline(20);
    a.onExpire(() => fired.push("a1"));
    a.onExpire(() => fired.push("a2"));
    const expired = a.expired.catch((e) => e);
    const b = new Deadline(20);
    b.onExpire(() => fired.push("b"));
    b.dispose();
    const s = new Deadline(20);
    s.onExpire(() => fired.push("s"));
    s.suspend();
    await new Promise((r) => setTimeout(r, 20 + DEADLINE_TICK_MS * 3));
    expect(fired).toEqual(["a1", "a2"]);
    expect(await expired).toBeInstanceOf(DeadlineExceeded);
    expect(a.passed && !b.passed && !s.passed).toBe(true);
    expect(s.remaining()).toBe(20); // the whole budget while suspended
    s.resume(); // a fresh budget from now
    expect(s.remaining()).toBeGreaterThan(10);
    await new Promise((r) => setTimeout(r, 20 + DEADLINE_TICK_MS * 3));
    expect(fired).toEqual(["a1", "a2", "s"]);
    a.onExpire(() => fired.push("late")); // registered after: called at once
    expect(fired.at(-1)).toBe("late");
  });
});
