// End to end: the real local server under Deno, called with supabase-js and a browser-style
// CORS preflight; and a function entrypoint started with a broken configuration.
import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient } from "@supabase/supabase-js";
import postgres from "postgres";
import ws from "ws";
import { freePort } from "../scripts/db/server.ts";
import { denoBin, DENO_RUN_FLAGS, root, startDenoServer, waitForHttp } from "../scripts/lib/deno.ts";
import { signAnonKey } from "../scripts/lib/dev-tokens.ts";
import { adminSql, ALLOWED_ORIGIN, newUser, TEST_JWT_SECRET, testEnv } from "./support/harness.ts";

let server: ChildProcess;
let base: string;
let sql: postgres.Sql;
let anonKey: string;

beforeAll(async () => {
  sql = adminSql();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  server = startDenoServer({ ...process.env as Record<string, string>, ...testEnv(), PORT: String(port) }, "pipe");
  await waitForHttp(`${base}/functions/v1/`, 60_000, server);
  // The local anon key, as npm start writes it to dev.env (ANON_KEY).
  anonKey = await signAnonKey(TEST_JWT_SECRET);
}, 90_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await sql.end();
});

describe("local server under Deno", () => {
  it("answers paths that name no function with the shared frame: error shape, request id, security headers", async () => {
    for (const path of ["/functions/v1/no-such-function", "/functions/v1/", "/elsewhere"]) {
      const res = await fetch(`${base}${path}`, { headers: { origin: ALLOWED_ORIGIN } });
      expect([path, res.status]).toEqual([path, 404]);
      const body = await res.json();
      expect(body).toEqual({ error: "Not found", requestId: res.headers.get("x-request-id") });
      expect(res.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
      expect(res.headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
      expect(res.headers.get("x-content-type-options")).toBe("nosniff");
      expect(res.headers.get("content-security-policy")).toMatch(/default-src 'none'/);
      expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    }
  });


  it("serves manage-user-secrets to supabase-js functions.invoke()", async () => {
    const u = await newUser(sql);
    const supabase = createClient(base, anonKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      realtime: { transport: ws as never }, // Node 20 has no global WebSocket
    });
    const headers = { Authorization: `Bearer ${u.token}` };
    const saved = await supabase.functions.invoke("manage-user-secrets?action=save", {
      method: "POST", headers, body: { serviceName: "mistral_api_key_encrypted", value: "mistral-e2e" },
    });
    expect(saved.error).toBeNull();
    expect(saved.data).toEqual({ success: true });
    const got = await supabase.functions.invoke("manage-user-secrets?action=get&serviceName=mistral_api_key_encrypted", { method: "GET", headers });
    expect(got.error).toBeNull();
    expect(got.data).toEqual({ value: "mistral-e2e" });
    const listed = await supabase.functions.invoke("manage-user-secrets?action=list", { method: "GET", headers });
    expect(listed.data.secrets.map((s: { service_name: string }) => s.service_name)).toEqual(["mistral_api_key_encrypted"]);
    // The anon key alone is not a user.
    const anon = await supabase.functions.invoke("manage-user-secrets?action=list", { method: "GET" });
    expect(anon.error).not.toBeNull();
    expect((anon.error as { context: Response }).context.status).toBe(401);
  });

  it("answers a browser CORS preflight and echoes only the allowed origin", async () => {
    const pre = await fetch(`${base}/functions/v1/manage-user-secrets?action=save`, {
      method: "OPTIONS",
      headers: { Origin: ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,x-client-info,apikey,content-type" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(pre.headers.get("access-control-allow-headers")).toContain("x-client-info");
    const denied = await fetch(`${base}/functions/v1/manage-user-secrets?action=list`, { headers: { Origin: "https://evil.example" } });
    expect(denied.status).toBe(401);
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("answers unknown functions with a JSON 404", async () => {
    const res = await fetch(`${base}/functions/v1/no-such-function`);
    expect(res.status).toBe(404);
    expect((await res.json()).error).toBe("Not found");
  });
});

describe("function entrypoint with a broken configuration", () => {
  it("logs the variable's name (never its value) and answers 500 Configuration error", async () => {
    const port = await freePort();
    const env = { ...testEnv(), SECRET_MASTER_KEY: "not-a-valid-key-value-xyz", PORT: String(port) };
    const child = spawn(denoBin, [...DENO_RUN_FLAGS, "functions/manage-user-secrets/index.ts"], {
      cwd: root, env: { ...process.env, ...env, DENO_NO_UPDATE_CHECK: "1" }, stdio: ["ignore", "pipe", "pipe"],
    });
    let logs = "";
    child.stdout!.on("data", (d) => (logs += d));
    child.stderr!.on("data", (d) => (logs += d));
    try {
      await waitForHttp(`http://127.0.0.1:${port}/`, 60_000, child);
      const res = await fetch(`http://127.0.0.1:${port}/manage-user-secrets?action=list`);
      expect(res.status).toBe(500);
      expect((await res.json()).error).toBe("Configuration error");
      expect(logs).toContain("SECRET_MASTER_KEY");
      expect(logs).not.toContain("not-a-valid-key-value-xyz");
    } finally {
      child.kill("SIGTERM");
    }
  }, 90_000);
});
