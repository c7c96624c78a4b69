// Local server (Deno): every function in functions/ under /functions/v1/<name>, the URL
// layout of Supabase, sharing one set of dependencies (one pool, one keyring). Also:
//   GET /openapi.json   one OpenAPI document merging every function's (scripts/lib/openapi-merge.ts)
//   GET /docs           the API reference page over it (Scalar), served without any CDN
import { Scalar } from "@scalar/hono-api-reference";
import { Hono } from "hono";
import { depsFromEnv } from "../shared/runtime/deps.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { keepServingOnUnhandledRejection } from "../shared/runtime/deno.ts";
import { listOperations, MERGED_INFO, mergeOpenApi, type FunctionDocument, type JsonObject } from "./lib/openapi-merge.ts";

declare const Deno: {
  env: { toObject(): Record<string, string>; get(k: string): string | undefined };
  readDir(path: string | URL): AsyncIterable<{ name: string; isDirectory: boolean }>;
  readFile(path: string | URL): Promise<Uint8Array<ArrayBuffer>>;
  readTextFile(path: string | URL): Promise<string>;
  stat(path: string | URL): Promise<unknown>;
  serve(opts: { port: number; hostname: string; onListen?: () => void }, handler: (req: Request) => Response | Promise<Response>): unknown;
  exit(code: number): never;
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
};

type App = { fetch: (req: Request) => Response | Promise<Response> };

keepServingOnUnhandledRejection();
let deps: Deps;
try {
  deps = await depsFromEnv(Deno.env.toObject());
} catch (err) {
  console.error(`[serve] ${(err as Error).message}`);
  Deno.exit(1);
}

const apps = new Map<string, App>();
const dir = new URL("../functions/", import.meta.url);
for await (const entry of Deno.readDir(dir)) {
  if (!entry.isDirectory) continue;
  const appFile = new URL(`${entry.name}/app.ts`, dir);
  try {
    await Deno.stat(appFile);
  } catch {
    continue;
  }
  const mod = await import(appFile.href) as { createApp: (d: Deps) => App };
  apps.set(entry.name, mod.createApp(deps));
}
const functionNames = [...apps.keys()].sort();

if (Deno.env.get("BENCH_FLOOR") === "1") {
  const { createFloorApp } = await import("./bench-floor.ts");
  apps.set("bench-floor", createFloorApp(deps));
}

const port = Number(Deno.env.get("PORT") ?? 54321);
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const notFound = () => json({ error: "Not found", requestId: crypto.randomUUID() }, 404);

// ---- The merged OpenAPI document and the reference page --------------------------------------

let merged: Promise<JsonObject> | null = null;
/** Built on first use from what each mounted function serves at /functions/v1/<name>/openapi.json. */
function mergedDocument(): Promise<JsonObject> {
  merged ??= (async () => {
    const docs: FunctionDocument[] = [];
    for (const name of functionNames) {
      const res = await apps.get(name)!.fetch(new Request(`http://${hostname}:${port}/functions/v1/${name}/openapi.json`));
      if (res.status === 200) docs.push({ name, doc: await res.json() as JsonObject });
    }
    const pkg = JSON.parse(await Deno.readTextFile(new URL("../package.json", import.meta.url))) as { version: string };
    return mergeOpenApi(docs, { ...MERGED_INFO, version: pkg.version });
  })().catch((err) => {
    merged = null;
    throw err;
  });
  return merged;
}

/**
 * Scalar's browser bundle (`@scalar/api-reference`, dist/browser/standalone.js), served from
 * this machine: the page must work offline. SCALAR_STANDALONE_JS may point at another copy.
 */
const SCALAR_BUNDLES = [
  Deno.env.get("SCALAR_STANDALONE_JS"),
  new URL("../node_modules/@scalar/api-reference/dist/browser/standalone.js", import.meta.url).pathname,
].filter((p): p is string => !!p);
async function scalarBundle(): Promise<string | null> {
  for (const p of SCALAR_BUNDLES) {
    try {
      await Deno.stat(p);
      return p;
    } catch { /* next */ }
  }
  return null;
}

const DOCS_CSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";
const scalarPage = Scalar({
  url: "/openapi.json",
  pageTitle: "API reference: all functions",
  cdn: "/docs/scalar.js",
  withDefaultFonts: false, // no font CDN
  defaultOpenAllTags: true, // every function's operations listed in the sidebar
  showDeveloperTools: "never",
  telemetry: false,
  agent: { disabled: true },
});

const esc = (s: string) => s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
/** Without Scalar's bundle: the same operations as plain HTML, so /docs still works offline. */
function plainPage(doc: JsonObject): string {
  const ops = listOperations(doc);
  const sections = (doc.tags as { name: string; description?: string }[]).map((t) =>
    `<section id="${esc(t.name)}"><h2>${esc(t.name)}</h2><p>${esc(t.description ?? "")}</p><ul>` +
    ops.filter((o) => o.tag === t.name).map((o) =>
      `<li><code>${o.method} ${esc(o.path)}</code> ${esc(o.summary ?? "")}</li>`
    ).join("") + "</ul></section>"
  ).join("\n");
  return `<!doctype html><html><head><meta charset="utf-8"><title>API reference: all functions</title></head><body>
<h1>API reference: all functions</h1>
<p>Scalar's browser bundle (<code>@scalar/api-reference</code>) is not installed, so this is the plain list.
The full document is at <a href="/openapi.json">/openapi.json</a>; each function's own at
<code>/functions/v1/&lt;name&gt;/openapi.json</code>.</p>
${sections}
</body></html>`;
}

const docsApp = new Hono();
docsApp.get("/openapi.json", async (c) => c.json(await mergedDocument()));
docsApp.get("/docs/scalar.js", async (c) => {
  const file = await scalarBundle();
  if (!file) return notFound();
  return c.body(await Deno.readFile(file), 200, {
    "content-type": "text/javascript; charset=utf-8",
    "cache-control": "public, max-age=3600",
  });
});
docsApp.use("/docs", async (c, next) => {
  await next();
  c.header("content-security-policy", DOCS_CSP);
  c.header("x-content-type-options", "nosniff");
});
docsApp.get("/docs", async (c, next) =>
  (await scalarBundle()) ? scalarPage(c, next) : c.html(plainPage(await mergedDocument())));
docsApp.onError((err, c) => {
  console.error(JSON.stringify({ level: "error", event: "docs.failed", errorClass: err.name }));
  return c.json({ error: "Internal server error", requestId: crypto.randomUUID() }, 500);
});

// ---- Serve -----------------------------------------------------------------------------------

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    deps.db.end().finally(() => Deno.exit(0));
  });
}

Deno.serve({ port, hostname, onListen: () => console.log(`[serve] listening on http://${hostname}:${port} (${[...apps.keys()].sort().join(", ")}); API reference at /docs`) }, (req) => {
  const path = new URL(req.url).pathname;
  if (path === "/openapi.json" || path === "/docs" || path === "/docs/scalar.js") return docsApp.fetch(req);
  const name = path.split("/")[3];
  const app = name ? apps.get(name) : undefined;
  return app ? app.fetch(req) : notFound();
});
