// Asymmetric Supabase tokens through a served function (Deno), with the project's public keys
// inline in SUPABASE_JWKS, as the Supabase platform sets it: the first request verifies without
// fetching the JWKS URL (no round trip to Auth on a cold start). A key id the inline set lacks is
// looked up at the URL.
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../scripts/db/server.ts";
import { ensureUser } from "../scripts/lib/dev-tokens.ts";
import { denoBin, DENO_RUN_FLAGS, root, waitForHttp } from "../scripts/lib/deno.ts";
import { adminSql, testEnv } from "./support/harness.ts";

describe("SUPABASE_JWKS: asymmetric tokens verified with the inline keys", () => {
  let jwksServer: Server;
  let jwksHits = 0;
  let signing: CryptoKeyPair;
  let rotated: CryptoKeyPair;
  let origin: string;
  let child: ReturnType<typeof spawn>;
  const userId = crypto.randomUUID();

  const token = (kid: string, key: CryptoKey) =>
    new SignJWT({ role: "authenticated", aal: "aal1", app_metadata: { provider: "email" }, user_metadata: {} })
      .setProtectedHeader({ alg: "ES256", kid, typ: "JWT" })
      .setSubject(userId).setAudience("authenticated").setIssuedAt().setExpirationTime("10m")
      .sign(key);
  const list = async (t: string) => {
    const res = await fetch(`${origin}/manage-user-secrets?action=list`, { headers: { authorization: `Bearer ${t}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    signing = await generateKeyPair("ES256", { extractable: true });
    rotated = await generateKeyPair("ES256", { extractable: true });
    const pub = (k: CryptoKey, kid: string) => exportJWK(k).then((j) => ({ ...j, kid, alg: "ES256", use: "sig" }));
    // The URL serves both keys: the inline set was written before "key-2" was added.
    const served = JSON.stringify({ keys: [await pub(signing.publicKey, "key-1"), await pub(rotated.publicKey, "key-2")] });
    jwksServer = createServer((_req, res) => {
      jwksHits++;
      res.writeHead(200, { "content-type": "application/json" }).end(served);
    });
    await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
    const sql = adminSql();
    try {
      await ensureUser(sql, userId);
    } finally {
      await sql.end();
    }
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    child = spawn(denoBin, [...DENO_RUN_FLAGS, "functions/manage-user-secrets/index.ts"], {
      cwd: root,
      env: {
        ...process.env,
        ...testEnv({
          SUPABASE_JWKS: JSON.stringify({ keys: [await pub(signing.publicKey, "key-1")] }),
          SUPABASE_JWKS_URL: `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/auth/v1/.well-known/jwks.json`,
        }),
        PORT: String(port),
        DENO_NO_UPDATE_CHECK: "1",
      },
      stdio: "ignore",
    });
    await waitForHttp(`${origin}/`, 60_000, child);
  }, 90_000);

  afterAll(async () => {
    child?.kill("SIGKILL");
    await new Promise((r) => jwksServer.close(r));
  });

  it("the first request of an instance verifies with the inline key: 200, no fetch of the JWKS URL", async () => {
    const res = await list(await token("key-1", signing.privateKey));
    expect(res.status).toBe(200);
    expect(Array.isArray(res.body.secrets)).toBe(true);
    expect(jwksHits).toBe(0);
  });

  it("a key id the inline set lacks is looked up at the URL; a forged key under a known id is refused without it", async () => {
    const forged = await generateKeyPair("ES256");
    const refused = await list(await token("key-1", forged.privateKey));
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: "Authentication required", requestId: expect.any(String) });
    expect(jwksHits).toBe(0);
    const res = await list(await token("key-2", rotated.privateKey));
    expect(res.status).toBe(200);
    expect(jwksHits).toBeGreaterThan(0);
  });
});
