// Run under Deno by scripts/bench-cold-phases.ts, one fresh process per function: time each phase
// of a function's start (what functions/<name>/index.ts does before serving), in the order that
// charges the bare floor's own packages first, then its first two requests. Prints one JSON line
// of milliseconds.
//   deno run -A scripts/lib/start-phases.ts <function> [<request JSON: {path, init}>]
//   deno run -A scripts/lib/start-phases.ts bare <request JSON>   (Deno + Hono + postgres.js select 1)
// Without a request nothing connects to the database (postgres.js connects on the first query).
// With one, the first request is split: the token check (jose's key import and verification),
// the pool's first connection (postgres.js: connect, start-up, its array-type query, a select 1),
// and the rest of the first request (app.fetch, in-process). The second request shows what the
// same route costs once everything is loaded and compiled.
declare const Deno: { args: string[]; env: { toObject(): Record<string, string> } };

const at: Record<string, number> = { boot: performance.now() };
let last = at.boot;
const mark = (name: string) => {
  const now = performance.now();
  at[name] = now - last;
  last = now;
};
const [fn, requestJson] = Deno.args;
const request = requestJson ? (JSON.parse(requestJson) as { path: string; init: RequestInit }) : null;
type App = { fetch(req: Request): Response | Promise<Response> };
const ask = async (app: App) => {
  const res = await app.fetch(new Request(`http://local${request!.path}`, request!.init));
  await res.arrayBuffer();
  return res.status;
};
/** The first answer (its status, and the time to it as `total`), then the same request again. */
const firstTwoRequests = async (app: App) => {
  at.status = await ask(app);
  mark("first request");
  at.total = performance.now();
  await ask(app);
  mark("second request");
};

const { default: postgres } = await import("postgres");
const { Hono } = await import("hono");
mark("postgres.js + hono");
if (fn === "bare") {
  // What scripts/bench-bare.ts `select` serves.
  const sql = postgres(Deno.env.toObject().DATABASE_URL, { max: 4, onnotice: () => {} });
  const app = new Hono();
  app.get("/", async (c) => c.json({ one: (await sql`select 1 as one`)[0].one }));
  await sql`select 1`;
  mark("first connection");
  await firstTwoRequests(app);
  await sql.end();
} else {
  await import("zod");
  await import("@hono/zod-openapi");
  mark("zod + @hono/zod-openapi");
  const { depsFromEnv } = await import("../../shared/runtime/deps.ts");
  await import("../../shared/http/index.ts");
  mark("shared/");
  const { createApp } = await import(`../../functions/${fn}/app.ts`);
  mark("the function's modules");
  const deps = await depsFromEnv(Deno.env.toObject());
  mark("deps");
  const app = createApp(deps) as App;
  mark("createApp");
  if (request) {
    const auth = new Headers(request.init.headers).get("authorization");
    if (auth) await deps.verifyToken(auth.slice("Bearer ".length));
    mark("token check");
    await deps.db.sql`select 1`;
    mark("first connection");
    await firstTwoRequests(app);
  } else {
    at.total = performance.now();
  }
  await deps.db.sql.end();
}
console.log(JSON.stringify(at));
export {};
