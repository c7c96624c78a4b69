// The only Deno-specific code: serve one function. A configuration error is logged once,
// naming the variable (never its value), and every request then gets 500 "Configuration error".
import type { Hono } from "hono";
import { ConfigError } from "../config/index.ts";
import { depsFromEnv, type Deps } from "./deps.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(handler: (req: Request) => Response | Promise<Response>): unknown;
};

// deno-lint-ignore no-explicit-any
export async function serveFunction(name: string, createApp: (deps: Deps) => Hono<any>): Promise<void> {
  try {
    const app = createApp(await depsFromEnv(Deno.env.toObject()));
    Deno.serve((req) => app.fetch(req));
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : "start-up failed";
    console.error(JSON.stringify({ level: "error", event: "startup.failed", fn: name, detail }));
    Deno.serve(() =>
      new Response(JSON.stringify({ error: "Configuration error", requestId: crypto.randomUUID() }), {
        status: 500,
        headers: { "content-type": "application/json" },
      })
    );
  }
}
