// One platform's fake OAuth provider as standalone servers, to try oauth-callback and social-post
// under `npm start` without real credentials (docs/oauth.md, "Trying it locally"):
//
//   npx tsx tests/oauth/serve-fakes.ts [platform] [port]   # hootsuite, 54390 by default
//
// Starts the fake authorization server on 127.0.0.1:<port> (auto-consenting: its authorization
// URL redirects straight back to redirect_uri with code and state) and, for buffer, hootsuite,
// later and sprout_social, the fake social API on <port + 1>; prints the lines to add to
// .env.local. OAUTH_REDIRECT_URI names the npm start port: PORT (default 54321), as npm start reads it.
import { OAUTH_PLATFORMS, type Platform } from "../../shared/oauth/providers.ts";
import { startLocalFakes } from "./support/local-fakes.ts";

let platform: Platform = "hootsuite";
let port = 54390;
for (const arg of process.argv.slice(2)) {
  if (/^\d+$/.test(arg)) port = Number(arg);
  else if ((OAUTH_PLATFORMS as readonly string[]).includes(arg)) platform = arg as Platform;
  else {
    console.error(`usage: npx tsx tests/oauth/serve-fakes.ts [${OAUTH_PLATFORMS.join("|")}] [port]`);
    process.exit(2);
  }
}
const functionsPort = process.env.PORT ?? "54321";
const fakes = await startLocalFakes(platform, { port, functionsBase: `http://127.0.0.1:${functionsPort}/functions/v1` });
for (const [k, v] of Object.entries(fakes.env)) console.log(`${k}=${v}`);
console.error(`[fake ${platform}] authorization server ${fakes.auth.url} (auto-consent)` +
  (fakes.api ? `, API ${fakes.api.url}` : ", no social-post connector") + " (Ctrl-C to stop)");
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void fakes.close().then(() => process.exit(0)));
