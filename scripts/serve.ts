// Local server (Deno): every function in functions/ under /functions/v1/<name>, the URL
// layout of Supabase, sharing one set of dependencies (one pool, one keyring). Also:
//   GET /openapi.json   one OpenAPI document merging every function's (scripts/lib/openapi-merge.ts)
//   GET /docs           the API reference page over it (Swagger UI), served without any CDN
import { Hono } from "hono";
import { depsFromEnv, httpOptions } from "../shared/runtime/deps.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { keepServingOnUnhandledRejection } from "../shared/runtime/deno.ts";
import { flushLogs, flushLogsSync } from "../shared/log/index.ts";
import { createFunctionApp, createRouter } from "../shared/http/index.ts";
import { MERGED_INFO, mergeOpenApi, type FunctionDocument, type JsonObject } from "./lib/openapi-merge.ts";

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
globalThis.addEventListener("unload", () => flushLogsSync());
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
// Anything that names no function gets the shared frame's 404: error shape, request id,
// security headers and CORS, like every answer of a function.
const unknownFunction = createFunctionApp(
  httpOptions("_", deps),
  createRouter(),
  { title: "unknown function" },
);
const notFound = (req?: Request) => unknownFunction.fetch(req ?? new Request("http://localhost/_/"));

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

// The reference page: Swagger UI's own static bundle from node_modules (swagger-ui-dist), so
// the page works offline (no CDN); the page and its initializer are ours, no inline script.
const SWAGGER_DIR = new URL("../node_modules/swagger-ui-dist/", import.meta.url);
const DOCS_ASSETS: Record<string, string> = {
  "/docs/swagger-ui-bundle.js": "text/javascript; charset=utf-8",
  "/docs/swagger-ui.css": "text/css; charset=utf-8",
};
const DOCS_CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'";
const DOCS_PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>API reference: all functions</title><link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="reference"></div><script src="/docs/swagger-ui-bundle.js"></script><script src="/docs/init.js"></script></body></html>`;
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#reference", docExpansion: "list",
  deepLinking: true, validatorUrl: null, tryItOutEnabled: false, defaultModelsExpandDepth: 0 });`;

const docsApp = new Hono();
docsApp.use("*", async (c, next) => {
  await next();
  c.header("content-security-policy", DOCS_CSP);
  c.header("x-content-type-options", "nosniff");
  c.header("x-request-id", crypto.randomUUID());
});
docsApp.get("/openapi.json", async (c) => c.json(await mergedDocument()));
docsApp.get("/docs", (c) => c.html(DOCS_PAGE));
docsApp.get("/docs/init.js", (c) => c.body(DOCS_INIT, 200, { "content-type": "text/javascript; charset=utf-8" }));
docsApp.get("/docs/:file", async (c) => {
  const type = DOCS_ASSETS[c.req.path];
  if (!type) return notFound();
  return c.body(await Deno.readFile(new URL(c.req.path.slice("/docs/".length), SWAGGER_DIR)), 200, {
    "content-type": type,
    "cache-control": "public, max-age=3600",
  });
});
docsApp.onError((err, c) => {
  console.error(JSON.stringify({ level: "error", event: "docs.failed", errorClass: err.name }));
  return c.json({ error: "Internal server error", requestId: crypto.randomUUID() }, 500);
});

// ---- Serve -----------------------------------------------------------------------------------

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    // Queued log lines and request counts are written before exiting (both are written in batches).
    Promise.allSettled([deps.monitor.flush(), flushLogs()]).then(() => deps.db.end()).finally(() => Deno.exit(0));
  });
}

Deno.serve({ port, hostname, onListen: () => console.log(`[serve] listening on http://${hostname}:${port} (${[...apps.keys()].sort().join(", ")}); API reference at /docs`) }, (req) => {
  // The path as hono reads it (raw string slicing, no URL parse per request: issue 10).
  const url = req.url;
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const end = url.search(/[?#]/);
  const path = start < 0 ? "/" : url.slice(start, end < 0 ? undefined : end);
  if (path === "/openapi.json" || path === "/docs" || path.startsWith("/docs/")) return docsApp.fetch(req);
  const name = path.split("/")[3];
  const app = name ? apps.get(name) : undefined;
  return app ? app.fetch(req) : notFound(req);
});
