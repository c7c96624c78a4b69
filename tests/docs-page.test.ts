// The API reference: the merged OpenAPI document and the /docs page of the real local server
// (Deno), opened in headless Chromium; and the generated docs/reference/ kept up to date.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser } from "playwright-core";
import { freePort } from "../scripts/db/server.ts";
import { root, startDenoServer, waitForHttp } from "../scripts/lib/deno.ts";
import { listOperations, mergeOpenApi, type JsonObject } from "../scripts/lib/openapi-merge.ts";
import { buildReference, functionNames, staleFiles } from "../scripts/gen-reference.ts";
import { testEnv } from "./support/harness.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let server: ChildProcess & { output: () => string };
let base: string;
let browser: Browser | undefined;

beforeAll(async () => {
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = startDenoServer({ ...process.env as Record<string, string>, ...testEnv(), PORT: String(port) }, "pipe");
  await waitForHttp(`${base}/functions/v1/`, 60_000, server);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
});

describe("merged OpenAPI document (GET /openapi.json)", () => {
  it("has every mounted function as a tag, its paths prefixed, and equals docs/reference/openapi.json", async () => {
    const res = await fetch(`${base}/openapi.json`);
    expect(res.status).toBe(200);
    const doc = await res.json() as JsonObject;
    expect(doc.openapi).toBe("3.1.0");
    const names = functionNames();
    expect(names.length).toBeGreaterThanOrEqual(4);
    expect((doc.tags as { name: string }[]).map((t) => t.name)).toEqual(names);
    const ops = listOperations(doc);
    for (const name of names) {
      const own = await (await fetch(`${base}/functions/v1/${name}/openapi.json`)).json() as JsonObject;
      const mine = ops.filter((o) => o.tag === name);
      expect(mine.length, name).toBe(listOperations(own).length);
      for (const o of mine) expect(o.path === `/functions/v1/${name}` || o.path.startsWith(`/functions/v1/${name}/`), o.path).toBe(true);
    }
    // Every $ref resolves inside the merged document.
    const refs = JSON.stringify(doc).match(/"\$ref":"#\/components\/[^"]+"/g) ?? [];
    for (const r of new Set(refs)) {
      const [, type, n] = /#\/components\/([^/]+)\/([^"]+)/.exec(r)!;
      expect((doc.components as Record<string, Record<string, unknown>>)[type]?.[n], r).toBeDefined();
    }
    // operationIds are unique.
    const ids = ops.map((o) => o.operationId).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
    // The served document is the committed one.
    expect(doc).toEqual(JSON.parse(readFileSync(`${root}docs/reference/openapi.json`, "utf8")));
  });

  it("keeps equal components once and renames clashing ones per function", () => {
    const err = { type: "object", properties: { error: { type: "string" } } };
    const merged = mergeOpenApi([
      { name: "a-fn", doc: { openapi: "3.1.0", info: { title: "a", version: "1" }, components: { schemas: { Error: err, Item: { type: "string" } }, securitySchemes: { bearerAuth: { type: "http", scheme: "bearer" } } }, security: [{ bearerAuth: [] }], paths: { "/": { get: { operationId: "list", responses: { 200: { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } } } } } } } } },
      { name: "b-fn", doc: { openapi: "3.1.0", info: { title: "b", version: "1" }, components: { schemas: { Error: err, Item: { type: "integer" } }, securitySchemes: { bearerAuth: { type: "http", scheme: "bearer", bearerFormat: "JWT" } } }, paths: { "/x/{id}": { get: { operationId: "list", security: [{ bearerAuth: [] }], responses: { 200: { description: "ok", content: { "application/json": { schema: { $ref: "#/components/schemas/Item" } } } } } } } } } },
    ]);
    const c = merged.components as Record<string, Record<string, unknown>>;
    expect(Object.keys(c.schemas)).toEqual(["AFnItem", "BFnItem", "Error"]);
    expect(Object.keys(c.securitySchemes)).toEqual(["AFnBearerAuth", "BFnBearerAuth"]);
    const paths = merged.paths as Record<string, Record<string, JsonObject>>;
    expect(Object.keys(paths)).toEqual(["/functions/v1/a-fn", "/functions/v1/b-fn/x/{id}"]);
    const a = paths["/functions/v1/a-fn"].get;
    const b = paths["/functions/v1/b-fn/x/{id}"].get;
    expect([a.operationId, b.operationId]).toEqual(["a-fn.list", "b-fn.list"]);
    expect(a.security).toEqual([{ AFnBearerAuth: [] }]); // the function-level security, moved onto the operation
    expect(b.security).toEqual([{ BFnBearerAuth: [] }]);
    expect(JSON.stringify(b.responses)).toContain("#/components/schemas/BFnItem");
    expect(a.tags).toEqual(["a-fn"]);
  });
});

describe("API reference page (GET /docs) in headless Chromium", () => {
  it("lists every function's operations, loading nothing from outside this server", async () => {
    expect(existsSync(CHROMIUM), `Chromium at ${CHROMIUM} (apt-get install chromium)`).toBe(true);
    const doc = await (await fetch(`${base}/openapi.json`)).json() as JsonObject;
    const ops = listOperations(doc);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    const foreign: string[] = [];
    page.on("request", (r) => {
      const u = new URL(r.url());
      if (u.protocol !== "data:" && u.protocol !== "blob:" && u.origin !== base) foreign.push(r.url());
    });
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));

    const res = await page.goto(`${base}/docs`, { waitUntil: "load" });
    expect(res?.status()).toBe(200);
    const html = await res!.text();
    // Every operation's summary (or, without one, its path) is on the page.
    const expected = ops.map((o) => o.summary ?? o.path);
    await page.waitForFunction((texts: string[]) => {
      const body = document.body.innerText.replace(/\s+/g, " ");
      return texts.every((t) => body.includes(t.replace(/\s+/g, " ")));
    }, expected, { timeout: 30_000 }).catch(() => {});
    const text = (await page.evaluate(() => document.body.innerText)).replace(/\s+/g, " ");
    const missing = expected.filter((t) => !text.includes(t.replace(/\s+/g, " ")));
    mkdirSync(`${root}.tmp`, { recursive: true });
    await page.screenshot({ path: `${root}.tmp/docs-page.png`, fullPage: false });
    expect(missing, "missing on /docs").toEqual([]);
    for (const name of functionNames()) expect(text).toContain(name);
    expect(foreign, "requests outside the local server").toEqual([]);
    expect(errors).toEqual([]);
    // Swagger UI's bundle is served from this machine (swagger-ui-dist), never a CDN.
    expect(html).toContain('src="/docs/swagger-ui-bundle.js"');
    const js = await fetch(`${base}/docs/swagger-ui-bundle.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
  }, 90_000);
});

describe("docs/reference", () => {
  it("is what `npm run docs:reference` generates now (not stale)", async () => {
    const files = await buildReference();
    expect([...files.keys()].sort()).toEqual(["README.md", "openapi.json", ...functionNames().map((n) => `${n}.md`)].sort());
    expect(staleFiles(files), "run npm run docs:reference").toEqual([]);
    for (const name of functionNames()) {
      const md = files.get(`${name}.md`)!;
      const ops = listOperations(JSON.parse(files.get("openapi.json")!) as JsonObject).filter((o) => o.tag === name);
      for (const o of ops) expect(md).toContain(`## ${o.method} \`${o.path}\``);
    }
  });
});
