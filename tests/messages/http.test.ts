// The HTTP frame of the messages function: its OpenAPI document and CORS.
import { describe, expect } from "vitest";
import { ALLOWED_ORIGIN } from "../support/harness.ts";
import { BASE, test } from "../support/messages.ts";

describe("HTTP frame", () => {
  test("serves an OpenAPI document with every route", async ({ app }) => {
    const res = await app.request(`${BASE}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json();
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .flatMap(([p, m]) => Object.keys(m).map((k) => `${k.toUpperCase()} ${p}`)).sort();
    expect(ops).toEqual([
      "DELETE /{messageId}", "GET /conversations", "GET /conversations/{id}/messages", "GET /customers", "GET /customers/export",
      "GET /customers/{id}", "GET /orders", "PATCH /customers/{id}", "POST /", "POST /orders", "POST /orders/{id}/confirm",
    ]);
    expect(doc.components.schemas.MessageCreate.required).toEqual(["conversation_id", "content"]);
    expect(JSON.stringify(doc.paths["/conversations"].get.parameters)).toContain("x-distributor-id");
  });

  test("lets browsers send x-distributor-id (CORS preflight)", async ({ app }) => {
    const res = await app.request(`${BASE}/conversations`, {
      method: "OPTIONS",
      headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "GET", "access-control-request-headers": "authorization,x-distributor-id" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(res.headers.get("access-control-allow-headers")?.toLowerCase()).toContain("x-distributor-id");
  });
});

describe("OpenAPI: one route style", () => {
  test("every operation has an operationId, bearer security, tags and the standard errors", async ({ app }) => {
    const doc = await (await app.request(`${BASE}/openapi.json`)).json();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    const ops = Object.entries(doc.paths as Record<string, Record<string, Record<string, unknown>>>)
      .flatMap(([p, methods]) => Object.entries(methods).map(([m, op]) => ({ name: `${m.toUpperCase()} ${p}`, op })));
    expect(ops).toHaveLength(11);
    const ids = ops.map(({ name, op }) => {
      expect(op.operationId, name).toMatch(/^[a-z][A-Za-z]+$/);
      expect(op.security, name).toEqual([{ bearerAuth: [] }]);
      expect((op.tags as string[]).length, name).toBe(1);
      const responses = op.responses as Record<string, { headers?: Record<string, unknown> }>;
      for (const status of ["400", "401", "403", "404", "500", "503"]) expect(responses, `${name} ${status}`).toHaveProperty(status);
      const ok = Object.keys(responses).find((s) => s.startsWith("2"))!;
      expect(responses[ok].headers, name).toHaveProperty("Cache-Control");
      const header = (op.parameters as { in: string; name: string; required?: boolean }[]).find((x) => x.in === "header");
      expect(header, name).toMatchObject({ name: "x-distributor-id", required: true });
      return op.operationId;
    });
    expect(new Set(ids).size).toBe(11);
    expect(doc.paths["/"].post.responses).toHaveProperty("413");
    expect(doc.paths["/"].post.responses).toHaveProperty("429");
    expect(doc.paths["/"].post.responses).toHaveProperty("502");
    expect(doc.paths["/orders/{id}/confirm"].post.responses).toHaveProperty("409");
    expect(doc.components.schemas.Error.properties).toHaveProperty("issues");
  });

  test("the export declares its response headers; the cursor is a plain string parameter", async ({ app }) => {
    const doc = await (await app.request(`${BASE}/openapi.json`)).json();
    const headers = doc.paths["/customers/export"].get.responses["200"].headers;
    expect(Object.keys(headers).sort()).toEqual(["Cache-Control", "Content-Disposition", "X-Export-Truncated"]);
    const cursor = (doc.paths["/customers"].get.parameters as { name: string; in: string; schema: { type: string } }[])
      .find((p) => p.name === "cursor");
    expect(cursor).toMatchObject({ in: "query", schema: { type: "string" } });
  });

  test("Cache-Control: no-store on answers and on errors (personal data)", async ({ api, A }) => {
    for (const res of [
      await api("GET", "/customers", A.t.users.OWNER.token, A.t.id),
      await api("GET", "/customers?limit=0", A.t.users.OWNER.token, A.t.id),
      await api("GET", `/customers/${crypto.randomUUID()}`, A.t.users.OWNER.token, A.t.id),
      await api("GET", "/customers", A.t.users.OWNER.token, null),
    ]) {
      expect(res.headers.get("cache-control"), String(res.status)).toBe("no-store");
    }
  });

  test("CORS lets a browser read the export's headers", async ({ app }) => {
    const res = await app.request(`${BASE}/customers/export`, { headers: { origin: ALLOWED_ORIGIN } });
    const exposed = res.headers.get("access-control-expose-headers")?.toLowerCase() ?? "";
    expect(exposed).toContain("x-export-truncated");
    expect(exposed).toContain("content-disposition");
  });
});
