// Local server (Deno): every function in functions/ under /functions/v1/<name>, the URL
// layout of Supabase, sharing one set of dependencies (one pool, one keyring).
import { depsFromEnv } from "../shared/runtime/deps.ts";
import type { Deps } from "../shared/runtime/deps.ts";
import { keepServingOnUnhandledRejection } from "../shared/runtime/deno.ts";

declare const Deno: {
  env: { toObject(): Record<string, string>; get(k: string): string | undefined };
  readDir(path: string | URL): AsyncIterable<{ name: string; isDirectory: boolean }>;
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

if (Deno.env.get("BENCH_FLOOR") === "1") {
  const { createFloorApp } = await import("./bench-floor.ts");
  apps.set("bench-floor", createFloorApp(deps));
}

const port = Number(Deno.env.get("PORT") ?? 54321);
const hostname = Deno.env.get("HOST") ?? "127.0.0.1";
const notFound = () =>
  new Response(JSON.stringify({ error: "Not found", requestId: crypto.randomUUID() }), {
    status: 404,
    headers: { "content-type": "application/json" },
  });

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    deps.db.end().finally(() => Deno.exit(0));
  });
}

Deno.serve({ port, hostname, onListen: () => console.log(`[serve] listening on http://${hostname}:${port} (${[...apps.keys()].sort().join(", ")})`) }, (req) => {
  const name = new URL(req.url).pathname.split("/")[3];
  const app = name ? apps.get(name) : undefined;
  return app ? app.fetch(req) : notFound();
});
