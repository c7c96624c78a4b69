// The only Deno-specific code: serve one function. A configuration error is logged once,
// naming the variable (never its value), and every request then gets 500 "Configuration error".
import type { Hono } from "hono";
import { ConfigError } from "../config/index.ts";
import { flushLogs, flushLogsSync } from "../log/index.ts";
import { depsFromEnv, type Deps } from "./deps.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(opts: { port: number }, handler: (req: Request) => Response | Promise<Response>): unknown;
  addSignalListener(signal: "SIGTERM" | "SIGINT", handler: () => void): void;
  exit(code: number): never;
};

/**
 * Log lines are written in batches off the request path (shared/log): write what is queued when
 * the instance stops. The edge runtime sends beforeunload/unload; a process of its own gets SIGTERM.
 */
export function flushLogsOnShutdown(): void {
  globalThis.addEventListener("beforeunload", () => void flushAll());
  globalThis.addEventListener("unload", () => flushLogsSync());
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    try {
      Deno.addSignalListener(signal, () => void flushAll().finally(() => Deno.exit(0)));
    } catch { /* not offered by this runtime: unload still flushes */ }
  }
}

/** What else is written when the instance stops (the security monitor's request counts). */
const beforeStop: (() => Promise<unknown>)[] = [];
const flushAll = () => Promise.allSettled([...beforeStop.map((f) => f()), flushLogs()]);

// deno-lint-ignore no-explicit-any
/** Never let a stray rejected promise take the whole server down; log its class only. */
export function keepServingOnUnhandledRejection(): void {
  globalThis.addEventListener("unhandledrejection", (e: PromiseRejectionEvent) => {
    e.preventDefault();
    const r = e.reason as { name?: string; code?: string } | undefined;
    console.error(JSON.stringify({ level: "error", event: "unhandled_rejection", errorClass: r?.name ?? typeof r, errorCode: r?.code }));
  });
}

export async function serveFunction(name: string, createApp: (deps: Deps) => Hono<any>): Promise<void> {
  keepServingOnUnhandledRejection();
  flushLogsOnShutdown();
  // The Supabase edge runtime ignores the port; it matters when an entry runs on its own.
  const port = Number(Deno.env.toObject().PORT ?? 8000);
  try {
    const deps = await depsFromEnv(Deno.env.toObject());
    beforeStop.push(() => deps.monitor.flush());
    const app = createApp(deps);
    Deno.serve({ port }, (req) => app.fetch(req));
  } catch (err) {
    const detail = err instanceof ConfigError ? err.message : "start-up failed";
    console.error(JSON.stringify({ level: "error", event: "startup.failed", fn: name, detail }));
    Deno.serve({ port }, () =>
      new Response(JSON.stringify({ error: "Configuration error", requestId: crypto.randomUUID() }), {
        status: 500,
        headers: { "content-type": "application/json" },
      })
    );
  }
}
