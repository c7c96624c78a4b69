// Benchmark floor: the same stack as a function (Deno + shared HTTP middleware + the same
// pool) answering one `select 1` per request. Mounted by scripts/serve.ts only when BENCH_FLOOR=1.
import { createFunctionApp, createRouter } from "../shared/http/index.ts";
import { httpOptions, type Deps } from "../shared/runtime/deps.ts";

export function createFloorApp(deps: Deps) {
  const api = createRouter();
  api.get("/", async (c) => {
    const [row] = await deps.db.sql`select 1 as one`;
    return c.json({ one: row.one });
  });
  return createFunctionApp(
    httpOptions("bench-floor", deps),
    api,
    { title: "bench-floor" },
  );
}
