// Every function's OpenAPI document follows the one route style: operationIds, bearer
// security on every authenticated operation, the shared Error schema on every error response,
// 413 wherever a body is accepted. New functions are picked up from functions/*/app.ts.
import { readdirSync, existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deps } from "../shared/runtime/deps.ts";
import { testDeps } from "./support/harness.ts";

type Operation = {
  operationId?: string;
  security?: unknown[];
  requestBody?: unknown;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
};
type Doc = { paths: Record<string, Record<string, Operation>>; components?: { securitySchemes?: Record<string, unknown> } };

const PUBLIC_FUNCTIONS = new Set(["webhook-whatsapp"]); // verify_jwt = false: signed by Meta instead
const names = readdirSync(new URL("../functions/", import.meta.url)).filter((n) => existsSync(new URL(`../functions/${n}/app.ts`, import.meta.url)));

let deps: Deps;
const docs = new Map<string, Doc>();
beforeAll(async () => {
  deps = await testDeps();
  for (const name of names) {
    const { createApp } = await import(`../functions/${name}/app.ts`) as { createApp: (d: Deps) => { request: (u: string) => Promise<Response> } };
    const res = await createApp(deps).request(`http://localhost/functions/v1/${name}/openapi.json`);
    expect(res.status).toBe(200);
    docs.set(name, await res.json() as Doc);
  }
});
afterAll(async () => deps.db.end());

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ where: `${method.toUpperCase()} ${path}`, op })));

describe.each(names)("OpenAPI document of %s", (name) => {
  it("has a unique operationId on every operation", () => {
    const ops = operations(docs.get(name)!);
    expect(ops.length).toBeGreaterThan(0);
    const ids = ops.map(({ where, op }) => [where, typeof op.operationId === "string" && /^[a-z][A-Za-z0-9]+$/.test(op.operationId)]);
    expect(ids.filter(([, ok]) => !ok)).toEqual([]);
    expect(new Set(ops.map(({ op }) => op.operationId)).size).toBe(ops.length);
  });

  it("declares bearer security on every authenticated operation, and 401", () => {
    const doc = docs.get(name)!;
    for (const { where, op } of operations(doc)) {
      if (PUBLIC_FUNCTIONS.has(name)) {
        expect([where, op.security]).toEqual([where, undefined]);
        continue;
      }
      expect([where, op.security]).toEqual([where, [{ bearerAuth: [] }]]);
      expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(["401", "500"])]);
    }
    if (!PUBLIC_FUNCTIONS.has(name)) expect(doc.components?.securitySchemes?.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("uses the one Error schema for every error response, and declares 413 wherever a body is accepted", () => {
    for (const { where, op } of operations(docs.get(name)!)) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400) continue;
        expect([where, status, r.content?.["application/json"]?.schema?.$ref]).toEqual([where, status, "#/components/schemas/Error"]);
      }
      if (op.requestBody) expect([where, Object.keys(op.responses)]).toEqual([where, expect.arrayContaining(["413"])]);
    }
  });
});

it("the webhook documents its signed body and the X-Hub-Signature-256 header", () => {
  const post = docs.get("webhook-whatsapp")!.paths["/"].post as Operation & { parameters?: { name: string; in: string }[] };
  expect(post.requestBody).toBeTruthy();
  expect(post.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: "x-hub-signature-256", in: "header" })]));
});
