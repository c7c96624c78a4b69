// Load generator, run as its own process (`tsx scripts/lib/load.ts '<json>'`) so the server
// under test never shares a CPU-bound event loop with it. Prints autocannon's summary as JSON,
// with this process's own CPU time (the load generator competes for the same 2 cores).
import autocannon from "autocannon";

interface LoadSpec {
  url: string;
  connections: number;
  durationSeconds: number;
  /** One header set per virtual user: connection i sends every request as headerSets[i % n]. */
  headerSets: Record<string, string>[];
}

const spec = JSON.parse(process.argv[2]) as LoadSpec;
let nextClient = 0;
const cpu0 = process.cpuUsage();
const result = await autocannon({
  url: spec.url,
  connections: spec.connections,
  duration: spec.durationSeconds,
  // A user's requests follow each other on their connection, like a frontend awaiting each
  // call; autocannon then reuses one prebuilt request per connection.
  setupClient: (client) => client.setHeaders(spec.headerSets[nextClient++ % spec.headerSets.length]),
});
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({
  requests: result.requests.total,
  rps: result.requests.average,
  p50: result.latency.p50,
  p99: result.latency.p99,
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  loadCpuMs: (cpu.user + cpu.system) / 1000,
}));
