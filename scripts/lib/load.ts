// Load generator, run as its own process (`tsx scripts/lib/load.ts '<json>'`) so the server
// under test never shares a CPU-bound event loop with it. Prints autocannon's summary as JSON.
import autocannon from "autocannon";

interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds: number;
  method?: "GET" | "POST";
  /** One header set per virtual user; requests rotate through them. */
  headerSets: Record<string, string>[];
  /** Optional bodies, rotated in step with headerSets (same length) or on their own. */
  bodies?: string[];
}

const spec = JSON.parse(process.argv[2]) as LoadSpec;
let i = 0;
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  method: spec.method ?? "GET",
  requests: [{
    setupRequest: (req) => {
      const n = i++;
      const headers = spec.headerSets[n % spec.headerSets.length];
      const body = spec.bodies ? spec.bodies[n % spec.bodies.length] : undefined;
      return { ...req, headers: { ...(req.headers as object), ...headers }, ...(body ? { body } : {}) } as typeof req;
    },
  }],
});
console.log(JSON.stringify({
  requests: result.requests.total,
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
}));
