// In-process cost of the shared HTTP frame, without a network or a database: µs per request of
// `app.fetch(new Request(...))` for a bare Hono app and for createFunctionApp with the same
// handler, under Deno (`deno run -A scripts/bench-frame.ts`). Tells framework time apart from
// everything else when the throughput benchmark moves.
import { Hono } from "hono";
import { createFunctionApp, createRouter } from "../shared/http/index.ts";
import { createLogger } from "../shared/log/index.ts";

const N = Number((globalThis as { Deno?: { env: { get(k: string): string | undefined } } }).Deno?.env.get("FRAME_N") ?? 100_000);
const bare = new Hono();
bare.get("/", (c) => c.json({ one: 1 }));
const api = createRouter();
api.get("/", (c) => c.json({ one: 1 }));
const logLines: string[] = [];
const logger = createLogger("info", (l) => void (logLines.length < 1 ? logLines.push(l) : 0));
const framed = createFunctionApp({ name: "frame", logger, corsAllowedOrigins: ["https://app.example.com"], maxBodyBytes: 1 << 20 }, api, { title: "frame" });
const quiet = createFunctionApp({ name: "frame", logger: createLogger("warn"), corsAllowedOrigins: ["https://app.example.com"], maxBodyBytes: 1 << 20 }, api, { title: "frame" });

async function run(name: string, fetch: (r: Request) => Response | Promise<Response>, url: string) {
  const go = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const res = await fetch(new Request(url, { headers: { authorization: "Bearer x", "x-forwarded-for": "203.0.113.9" } }));
      await res.arrayBuffer();
    }
  };
  await go(20_000);
  const t = performance.now();
  await go(N);
  console.log(`${name.padEnd(40)} ${((performance.now() - t) * 1000 / N).toFixed(2)} µs/request`);
}
for (let round = 0; round < 2; round++) {
  await run("bare hono", bare.fetch, "http://x/");
  await run("createFunctionApp (log info)", framed.fetch, "http://x/functions/v1/frame");
  await run("createFunctionApp (log warn)", quiet.fetch, "http://x/functions/v1/frame");
}
