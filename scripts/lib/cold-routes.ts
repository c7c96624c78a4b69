// The cheap route of each function that the cold-start benchmarks ask first (scripts/bench-cold.ts
// and scripts/bench-cold-phases.ts), and the user, distributor and tokens they need.
import postgres from "postgres";
import { createKeyring } from "../../shared/crypto/index.ts";
import { createDistributor } from "../../shared/tenancy/index.ts";
import { ensureUser, signDevToken } from "./dev-tokens.ts";

/** A request without its origin: path (with the function's name) and init. */
export interface ColdRequest {
  path: string;
  init: RequestInit;
}

/**
 * An authenticated read through the function's whole path (token, rate limit, the user's
 * transaction), or webhook-whatsapp's verification GET, which reads no database. A function
 * without an entry stops the benchmarks (coldRequest throws).
 */
export async function coldRequests(databaseUrl: string, env: Record<string, string>): Promise<Record<string, ColdRequest>> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  const userId = crypto.randomUUID();
  let distributorId: string;
  try {
    await ensureUser(sql, userId);
    const keyring = await createKeyring({ version: 1, hex: env.SECRET_MASTER_KEY });
    distributorId = (await sql.begin((tx) => createDistributor(tx as never, keyring, { name: "Cold Start Co", ownerId: userId }))).id;
  } finally {
    await sql.end();
  }
  const user = { authorization: `Bearer ${await signDevToken(env.SUPABASE_JWT_SECRET, { sub: userId })}` };
  const tenant = { ...user, "x-distributor-id": distributorId };
  const service = { authorization: `Bearer ${await signDevToken(env.SUPABASE_JWT_SECRET, { sub: crypto.randomUUID(), role: "service_role" })}` };
  const get = (path: string, headers: Record<string, string>): ColdRequest => ({ path, init: { headers } });
  const post = (path: string, headers: Record<string, string>): ColdRequest => ({
    path, init: { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: "{}" },
  });
  return {
    "ai-respond": get("/ai-respond/agents", tenant),
    "audit-query": get("/audit-query/retention-policy", tenant),
    distributors: get("/distributors", user),
    "manage-user-secrets": get("/manage-user-secrets?action=list", user),
    messages: get("/messages/conversations", tenant),
    "oauth-callback": get("/oauth-callback/connections", user),
    privacy: get("/privacy/requests", tenant),
    "retention-cleanup": post("/retention-cleanup", service),
    // No connection is stored: the route checks the rate limit and reads the connection, then 404.
    "social-post": get("/social-post/profiles?platform=buffer", user),
    "support-tickets": get("/support-tickets", user),
    "webhook-deliver": post("/webhook-deliver", service),
    "webhook-whatsapp": get(`/webhook-whatsapp?hub.mode=subscribe&hub.verify_token=${env.WHATSAPP_VERIFY_TOKEN}&hub.challenge=42`, {}),
    webhooks: get("/webhooks/endpoints", tenant),
  };
}

/** The environment both benchmarks serve with: a configured social platform, so social-post's route reaches the database. */
export function coldEnv(env: Record<string, string>): Record<string, string> {
  return { ...env, LOG_LEVEL: "warn", BUFFER_CLIENT_ID: "cold-start-client", BUFFER_CLIENT_SECRET: "cold-start-client-secret" };
}

export function coldRequest(requests: Record<string, ColdRequest>, fn: string): ColdRequest {
  const r = requests[fn];
  if (!r) throw new Error(`no cheap route for ${fn}: add one to scripts/lib/cold-routes.ts`);
  return r;
}
