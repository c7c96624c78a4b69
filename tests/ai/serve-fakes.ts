// The fake AI providers of the tests (fake-providers.ts) as a standalone server, to try
// ai-respond under `npm start` without real keys (docs/ai.md, "Try it"):
//
//   npx tsx tests/ai/serve-fakes.ts [port]      # default 54399; prints the variables to set
//
// Every provider answers "Thanks for your message!" (streamed in one chunk when asked).
import { startFakeProviders } from "./fake-providers.ts";

const port = Number(process.argv[2] ?? 54399);
const fake = await startFakeProviders(port);
for (const [k, v] of Object.entries(fake.env)) console.log(`${k}=${v}`);
console.error(`[fake AI providers] listening on ${fake.url} (Ctrl-C to stop)`);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void fake.close().then(() => process.exit(0)));
