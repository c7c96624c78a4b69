// Every function's OpenAPI document follows the one route style: operationIds, bearer
// security on every authenticated operation, the shared Error schema on every error response,
// 413 wherever a body is accepted. New functions are picked up from functions/*/app.ts.
// An operation is public only by saying so (`security: []`, route({ auth: false })), and only
// where listed below; every other operation of the same function still needs bearer security.
import { readdirSync, existsSync } from "node:fs";
import { describe, expect } from "vitest";
import type { Deps } from "../shared/runtime/deps.ts";
import { test as fixtures } from "./support/fixtures.ts";

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: unknown;
  parameters?: { name: string; in: string }[];
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; headers?: Record<string, unknown> }>;
};
type Doc = { paths: Record<string, Record<string, Operation>>; components?: { securitySchemes?: Record<string, unknown> } };

const PUBLIC_FUNCTIONS = new Set(["webhook-whatsapp"]); // verify_jwt = false: signed by Meta instead
/** Public operations inside functions that otherwise require a JWT ("METHOD /path"). */
const PUBLIC_OPERATIONS: Record<string, string[]> = {
  "oauth-callback": ["GET /callback"], // the provider's browser redirect; the single-use state names the user
};
const isPublic = (name: string, where: string) => PUBLIC_FUNCTIONS.has(name) || (PUBLIC_OPERATIONS[name] ?? []).includes(where);
const names = readdirSync(new URL("../functions/", import.meta.url)).filter((n) => existsSync(new URL(`../functions/${n}/app.ts`, import.meta.url)));

const test = fixtures
  /** Every function's document, as its app serves it. */
  .extend("docs", { scope: "file" }, async ({ deps }) => {
    const docs = new Map<string, Doc>();
    for (const name of names) {
      const { createApp } = await import(`../functions/${name}/app.ts`) as { createApp: (d: Deps) => { request: (u: string) => Promise<Response> } };
      const res = await createApp(deps).request(`http://localhost/functions/v1/${name}/openapi.json`);
      expect(res.status).toBe(200);
      docs.set(name, await res.json() as Doc);
    }
    return docs;
  });

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })));

describe.each(names)("OpenAPI document of %s", (name) => {
  test("has a unique operationId on every operation", ({ docs }) => {
    const ops = operations(docs.get(name)!);
    expect(ops.length).toBeGreaterThan(0);
    const ids = ops.map(({ where, op }) => [where, typeof op.operationId === "string" && /^[a-z][A-Za-z0-9]+$/.test(op.operationId)]);
    expect(ids.filter(([, ok]) => !ok)).toEqual([]);
    expect(new Set(ops.map(({ op }) => op.operationId)).size).toBe(ops.length);
  });

  test("declares bearer security on every authenticated operation, and 401; public ones say security: []", ({ docs }) => {
    const doc = docs.get(name)!;
    for (const { where, op } of operations(doc)) {
      if (isPublic(name, where)) {
        // Public in so many words (a signed webhook may still answer 401 for a bad signature).
        expect([where, op.security]).toEqual([where, []]);
        continue;
      }
      expect([where, op.security]).toEqual([where, [{ bearerAuth: [] }]]);
      expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(["401", "500"])]);
    }
    if (!PUBLIC_FUNCTIONS.has(name)) expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  test("uses the one Error schema for every error response, and declares 413 wherever a body is accepted", ({ docs }) => {
    for (const { where, op } of operations(docs.get(name)!)) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        // A public browser-facing operation may answer a page instead (text/html only).
        const types = Object.keys(r.content ?? {});
        if (isPublic(name, where) && types.length === 1 && types[0] === "text/html") continue;
        expect([where, status, r.content?.["application/json"]?.schema?.$ref]).toEqual([where, status, "#/components/schemas/Error"]);
      }
      if (op.requestBody) expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(["413"])]);
    }
  });
});

test("oauth-callback documents GET /callback: public, state/code/error in the query, 302 with Location, 400 as an HTML page", ({ docs }) => {
  const doc = docs.get("oauth-callback")!;
  const get = doc.paths["/callback"]?.get;
  expect(get).toBeTruthy();
  expect(get.operationId).toBe("oauthCallback");
  expect(get.security).toEqual([]);
  expect(get.parameters).toEqual(expect.arrayContaining(["state", "code", "error"].map((n) => expect.objectContaining({ name: n, in: "query" }))));
  expect(get.responses["302"]?.headers?.Location).toBeTruthy();
  expect(Object.keys(get.responses["400"]?.content ?? {})).toEqual(["text/html"]);
  // Every other operation of the function still requires the JWT.
  const others = operations(doc).filter(({ where }) => where !== "GET /callback");
  expect(others.length).toBeGreaterThan(0);
  for (const { where, op } of others) expect([where, op.security]).toEqual([where, [{ bearerAuth: [] }]]);
});

test("the webhook documents its signed body and the X-Hub-Signature-256 header", ({ docs }) => {
  const post = docs.get("webhook-whatsapp")!.paths["/"].post as Operation & { parameters?: { name: string; in: string }[] };
  expect(post.requestBody).toBeTruthy();
  expect(post.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "x-hub-signature-256", in: "header" })]));
});
