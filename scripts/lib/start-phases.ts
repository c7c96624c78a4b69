// Run under Deno by scripts/bench-cold-phases.ts, one fresh process per function: time each phase
// of a function's start (what functions/<name>/index.ts does before serving), in the order that
// charges the bare floor's own packages first. Prints one JSON line of milliseconds.
// Nothing connects to the database: postgres.js opens connections on the first query.
declare const Deno: { args: string[]; env: { toObject(): Record<string, string> } };

const at: Record<string, number> = { boot: performance.now() };
let last = at.boot;
const mark = (name: string) => {
  const now = performance.now();
  at[name] = now - last;
  last = now;
};
await import("postgres");
await import("hono");
mark("postgres.js + hono");
await import("zod");
await import("@hono/zod-openapi");
mark("zod + @hono/zod-openapi");
const { depsFromEnv } = await import("../../shared/runtime/deps.ts");
await import("../../shared/http/index.ts");
mark("shared/");
const { createApp } = await import(`../../functions/${Deno.args[0]}/app.ts`);
mark("the function's modules");
const deps = await depsFromEnv(Deno.env.toObject());
mark("deps");
createApp(deps);
mark("createApp");
at.total = performance.now();
await deps.db.sql.end();
console.log(JSON.stringify(at));
export {};
