// `npm start`'s configuration: the embedded PGlite database behind its socket server, one pooled
// connection (PGlite is one session), every function under Deno. A request that needs a
// distributor's keys inside its transaction must not wait for a second connection.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { prepareDatabase } from "../scripts/db/migrate.ts";
import { freePort, startPglite, type DatabaseServer } from "../scripts/db/server.ts";
import { root, startDenoServer, waitForHttp } from "../scripts/lib/deno.ts";
import { ensureUser, signDevToken } from "../scripts/lib/dev-tokens.ts";
import { startFakeGraph, type FakeGraph } from "./support/fake-graph.ts";
import { TEST_JWT_SECRET, TEST_WHATSAPP_APP_SECRET, testEnv } from "./support/harness.ts";
import { messagesPayload, msg, signedHeaders } from "./support/meta.ts";

let pg: DatabaseServer;
let server: ChildProcess;
let base: string;
let dir: string;
/** Connecting a number asks the Graph API who controls it (issue 9 §4): a fake one here. */
let graph: FakeGraph;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "pglite-dev-"));
  pg = await startPglite(join(dir, "db"));
  await prepareDatabase(pg.url);
  const port = await freePort();
  base = `http://127.0.0.1:${port}/functions/v1`;
  graph = await startFakeGraph();
  graph.phoneNumbers.set("9876543210", { token: "EAAG-dev", display_phone_number: "+1 555 0199" });
  server = startDenoServer({
    ...(process.env as Record<string, string>), ...testEnv(), DATABASE_URL: pg.url, DB_POOL_MAX: "1", PORT: String(port), GRAPH_API_BASE_URL: graph.url,
  }, "pipe");
  await waitForHttp(`${base}/`, 60_000, server);
}, 120_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  await pg?.stop();
  await graph?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("local development on PGlite (npm start)", () => {
  it("creates a distributor, connects WhatsApp, ingests a webhook and lists it back", async () => {
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    const userId = crypto.randomUUID();
    await ensureUser(sql, userId);
    await sql.end();
    const token = await signDevToken(TEST_JWT_SECRET, { sub: userId, aal: "aal2" });
    const h = { authorization: `Bearer ${token}`, "content-type": "application/json" };
    const call = (path: string, init: RequestInit = {}) => fetch(`${base}/${path}`, { ...init, signal: AbortSignal.timeout(15_000) });

    const created = await call("distributors", { method: "POST", headers: h, body: JSON.stringify({ name: "Dev Co" }) });
    expect(created.status).toBe(201);
    const { id } = await created.json();
    const connected = await call(`distributors/${id}/whatsapp`, {
      method: "POST", headers: h, body: JSON.stringify({ phone_number_id: "9876543210", display_phone_number: "+1 555 0199", access_token: "EAAG-dev" }),
    });
    expect(connected.status).toBe(201);

    const body = JSON.stringify(messagesPayload("9876543210", [msg.text({ from: "15550001111", body: "hi, I'm at dev@example.com" })]));
    const delivered = await call("webhook-whatsapp", { method: "POST", headers: signedHeaders(body, TEST_WHATSAPP_APP_SECRET), body });
    expect(delivered.status).toBe(200);

    const th = { ...h, "x-distributor-id": id };
    const list = await call("messages/conversations", { headers: th });
    expect(list.status).toBe(200);
    const { conversations } = await list.json();
    expect(conversations).toHaveLength(1);
    expect(conversations[0].preview).toBe("hi, I'm at [EMAIL_1]");
    const msgs = await call(`messages/conversations/${conversations[0].id}/messages`, { headers: th });
    expect((await msgs.json()).messages[0].content).toBe("hi, I'm at dev@example.com");

    const saved = await call("manage-user-secrets?action=save", { method: "POST", headers: h, body: JSON.stringify({ serviceName: "openai_api_key_encrypted", value: "sk-dev" }) });
    expect(saved.status).toBe(200);
    const got = await call("manage-user-secrets?action=get&serviceName=openai_api_key_encrypted", { headers: h });
    expect(await got.json()).toEqual({ value: "sk-dev" });
  }, 90_000);
});

/**
 * `npm start` itself (npm → sh → tsx → node → deno), or the script run by tsx directly, on its
 * own data directory and ports.
 */
function npmStart(dataDir: string, port: number, pglitePort: number, top: "npm" | "tsx" = "npm") {
  const [cmd, args] = top === "npm" ? ["npm", ["start"]] : [`${root}node_modules/.bin/tsx`, ["scripts/dev.ts"]];
  const child = spawn(cmd, args, {
    cwd: root,
    env: {
      ...process.env, DATABASE_URL: "", PORT: String(port), PGLITE_PORT: String(pglitePort), LOG_LEVEL: "warn",
      DEV_DATA_DIR: dataDir, DEV_ENV_FILE: join(dataDir, "..", "env.local"), DEV_DOTENV_FILE: join(dataDir, "..", "no.env"),
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const ready = async () => {
    const until = Date.now() + 90_000;
    while (!out.includes("supabase-js examples")) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`npm start did not come up:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { child, exited, ready, output: () => out };
}

async function portFree(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

describe("npm start (embedded PGlite) from the outside", () => {
  let home: string;
  beforeAll(() => { home = mkdtempSync(join(tmpdir(), "npm-start-")); });
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  // One data directory across the runs: also proves each stop released the .data lock.
  // SIGINT goes to tsx here: npm hands SIGINT to `sh -c`, which waits for its command instead of
  // passing it on (a terminal's Ctrl-C reaches every process of the group, so that case works).
  const runs = [["SIGTERM", "npm"], ["SIGHUP", "npm"], ["SIGINT", "tsx"], ["SIGHUP", "tsx"]] as const;
  for (const [signal, top] of runs) {
    it(`${signal} to ${top}'s pid stops everything: Deno's and PGlite's ports are free afterwards`, async () => {
      const dataDir = join(home, "data");
      const [port, pglitePort] = [await freePort(), await freePort()];
      const dev = npmStart(dataDir, port, pglitePort, top);
      try {
        await dev.ready();
        expect(await portFree(port)).toBe(false);
        expect(await portFree(pglitePort)).toBe(false);
        if (signal === "SIGTERM") await printedCommandsWork(dev.output(), dataDir);
      } catch (err) {
        dev.child.kill("SIGKILL");
        throw err;
      }
      dev.child.kill(signal);
      await dev.exited;
      const until = Date.now() + 10_000;
      // npm itself exits at once on SIGHUP; the server it started notices and stops within a
      // second or so (ports, then the .data lock, released last).
      const stopped = async () => (await portFree(port)) && (await portFree(pglitePort)) && !existsSync(join(dataDir, "dev.lock"));
      while (!(await stopped()) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(await portFree(port)).toBe(true);
      expect(await portFree(pglitePort)).toBe(true);
      expect(existsSync(join(dataDir, "dev.lock"))).toBe(false);
    }, 120_000);
  }
});

/** Paste what npm start printed after "source" into a fresh shell; every call must succeed. */
async function printedCommandsWork(output: string, dataDir: string): Promise<void> {
  const envFile = join(dataDir, "dev.env");
  expect(statSync(envFile).mode & 0o777).toBe(0o600);
  const vars = readFileSync(envFile, "utf8");
  for (const name of ["TOKEN", "BASE", "API_URL", "ANON_KEY", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET"]) expect(vars).toMatch(new RegExp(`^export ${name}='[^']+'$`, "m"));
  const anon = decodeJwt(/^export ANON_KEY='([^']+)'$/m.exec(vars)![1]);
  expect(anon.role).toBe("anon");
  const lines = output.split("\n");
  const from = lines.findIndex((l) => l.trim().startsWith("source "));
  const block = lines.slice(from, lines.indexOf("", from)).join("\n");
  expect(block).toContain(`source ${envFile}`);
  expect(block).not.toContain("…");
  // Each curl reports only its status code; the commands themselves are pasted unchanged.
  const script = `set -e\ncurl() { command curl -sS -o /dev/null -w '%{http_code}\\n' "$@"; }\n${block}\n`;
  const codes = execFileSync("bash", ["-c", script], { env: { PATH: process.env.PATH!, HOME: tmpdir() }, encoding: "utf8" });
  // secrets save, list; distributors create, list; webhook verification; signed webhook POST
  expect(codes.trim().split("\n")).toEqual(["200", "200", "201", "200", "200", "200"]);
}
