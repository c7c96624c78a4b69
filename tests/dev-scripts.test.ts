// The developer commands: `npm start` against DATABASE_URL (bootstrap + migrate, or not with
// --no-db-setup) and `npm run token`.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { freePort } from "../scripts/db/server.ts";
import { root, waitForHttp } from "../scripts/lib/deno.ts";
import { adminSql } from "./support/harness.ts";
import { loadLocalEnv, lockDataDir } from "../scripts/lib/env.ts";

const tsx = `${root}node_modules/.bin/tsx`;
let admin: postgres.Sql;
let dir: string;
const dbs: string[] = [];

async function freshDatabase(): Promise<string> {
  const name = `dev_${Date.now()}_${dbs.length}`;
  await admin.unsafe(`create database ${name}`);
  dbs.push(name);
  const u = new URL(inject("databaseUrl"));
  u.pathname = `/${name}`;
  return u.href;
}

beforeAll(() => {
  admin = adminSql();
  dir = mkdtempSync(join(tmpdir(), "dev-scripts-"));
});
afterAll(async () => {
  for (const d of dbs) await admin.unsafe(`drop database if exists ${d} with (force)`).catch(() => {});
  await admin.end();
  rmSync(dir, { recursive: true, force: true });
});

function runDev(env: Record<string, string>, args: string[] = []) {
  // Its own data directory and .env files: never the checkout's .data/ (a developer's npm start).
  const own = { DEV_DATA_DIR: join(dir, `data-${Math.random().toString(36).slice(2)}`), DEV_DOTENV_FILE: join(dir, "no.env"), DEV_ENV_FILE: join(dir, "generated.env.local") };
  const child = spawn(tsx, [`${root}scripts/dev.ts`, ...args], {
    cwd: root, env: { ...process.env, LOG_LEVEL: "warn", ...own, ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, output: () => out, exited };
}

describe("npm start with DATABASE_URL", () => {
  it("bootstraps and migrates a plain server, generates dev secrets, serves the functions and prints a token", async () => {
    const url = await freshDatabase();
    const port = await freePort();
    const envFile = join(dir, "env.local");
    const dataDir = join(dir, "data-first");
    // A lock left by a dead process (kill -9, a crash) is taken over.
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((r) => dead.once("exit", r));
    lockDataDir(dataDir, dead.pid!); // written as if by that pid
    const dev = runDev({ DATABASE_URL: url, PORT: String(port), DEV_ENV_FILE: envFile, DEV_DATA_DIR: dataDir });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/functions/v1/`, 60_000, dev.child);
      const until = Date.now() + 20_000;
      while (!dev.output().includes("source ") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      // The printed token is whole (a shortened one was pasted and got 401), and so is dev.env's.
      const token = /development token[^\n]*\n(\S+)/.exec(dev.output())![1];
      expect(readFileSync(join(dataDir, "dev.env"), "utf8")).toContain(`export TOKEN='${token}'`);
      expect(decodeJwt(token).session_id).toMatch(/^[0-9a-f-]{36}$/);
      const res = await fetch(`http://127.0.0.1:${port}/functions/v1/manage-user-secrets?action=list`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ secrets: [] });
      const generated = readFileSync(envFile, "utf8");
      for (const name of ["SUPABASE_JWT_SECRET", "SECRET_MASTER_KEY", "WHATSAPP_VERIFY_TOKEN", "WHATSAPP_APP_SECRET"]) {
        expect(generated).toMatch(new RegExp(`^${name}=.+$`, "m"));
      }
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const [{ n }] = await sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
      await sql.end();
      expect(n).toBeGreaterThanOrEqual(3);
    } finally {
      dev.child.kill("SIGTERM");
    }
  }, 90_000);

  it("--no-db-setup leaves the database alone (a real Supabase database is migrated by the CLI)", async () => {
    const url = await freshDatabase();
    const port = await freePort();
    const dev = runDev({ DATABASE_URL: url, PORT: String(port), DEV_ENV_FILE: join(dir, "env2.local") }, ["--no-db-setup"]);
    try {
      await waitForHttp(`http://127.0.0.1:${port}/functions/v1/`, 60_000, dev.child);
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      const [{ t }] = await sql`select to_regclass('supabase_migrations.schema_migrations')::text as t`;
      await sql.end();
      expect(t).toBeNull();
    } finally {
      dev.child.kill("SIGTERM");
    }
  }, 90_000);
});

describe("npm run token", () => {
  it("prints a signed development JWT with the requested claims and creates the user", async () => {
    const sub = crypto.randomUUID();
    const env = { ...process.env, DATABASE_URL: inject("databaseUrl"), DEV_ENV_FILE: join(dir, "env3.local"), SUPABASE_JWT_SECRET: "x".repeat(40) };
    const out = execFileSync(tsx, [`${root}scripts/token.ts`, "--sub", sub, "--email", "t@example.com", "--admin", "--aal2"], { cwd: root, env, encoding: "utf8" });
    const claims = decodeJwt(out.trim().split("\n").pop()!);
    expect(claims).toMatchObject({ sub, email: "t@example.com", role: "authenticated", aal: "aal2", aud: "authenticated", app_metadata: { role: "admin" } });
    const [user] = await admin`select email from auth.users where id = ${sub}`;
    expect(user.email).toBe("t@example.com");
    // Like Supabase Auth: the token names an auth.sessions row of that user.
    expect(claims.session_id).toMatch(/^[0-9a-f-]{36}$/);
    const [session] = await admin`select user_id, aal::text as aal, not_after > now() as live from auth.sessions where id = ${claims.session_id as string}`;
    expect(session).toEqual({ user_id: sub, aal: "aal2", live: true });
    // --no-session: no claim, no new row.
    const bare = decodeJwt(execFileSync(tsx, [`${root}scripts/token.ts`, "--sub", sub, "--no-session"], { cwd: root, env, encoding: "utf8" }).trim().split("\n").pop()!);
    expect(bare.session_id).toBeUndefined();
    expect(bare.sub).toBe(sub);
    const [{ n }] = await admin`select count(*)::int as n from auth.sessions where user_id = ${sub}`;
    expect(n).toBe(1);
    // Sessions go with their user (on delete cascade).
    await admin`delete from auth.users where id = ${sub}`;
    const [{ left }] = await admin`select count(*)::int as left from auth.sessions where id = ${claims.session_id as string}`;
    expect(left).toBe(0);
    expect(() => execFileSync(tsx, [`${root}scripts/token.ts`, "--sub", "not-a-uuid"], { cwd: root, env, stdio: "pipe" })).toThrow();
  }, 60_000);
});

describe("npm start refuses a bad configuration before starting or printing anything", () => {
  const cases: [string, () => Promise<Record<string, string>>, RegExp][] = [
    ["PORT=abc", async () => ({ PORT: "abc" }), /PORT must be a port number/],
    ["PORT out of range", async () => ({ PORT: "70000" }), /PORT must be a port number/],
    ["PGLITE_PORT=x", async () => ({ PGLITE_PORT: "x" }), /PGLITE_PORT must be a port number/],
    ["DATABASE_URL with a wrong scheme", async () => ({ DATABASE_URL: "mysql://u:p@127.0.0.1/db" }), /DATABASE_URL must start with postgres:\/\//],
    ["DATABASE_URL that is not a URL", async () => ({ DATABASE_URL: "localhost 5432" }), /DATABASE_URL is not a URL/],
    ["DATABASE_URL with nothing listening", async () => ({ DATABASE_URL: `postgres://u:hunter2@127.0.0.1:${await freePort()}/db` }), /DATABASE_URL: cannot connect to 127\.0\.0\.1:\d+/],
    ["DATABASE_URL with an unknown host", async () => ({ DATABASE_URL: "postgres://u:hunter2@no-such-host.invalid:5432/db" }), /DATABASE_URL: cannot connect to no-such-host\.invalid/],
    ["SECRET_MASTER_KEY malformed", async () => ({ SECRET_MASTER_KEY: "abc" }), /SECRET_MASTER_KEY must be exactly 64 hexadecimal/],
  ];
  for (const [name, makeEnv, message] of cases) {
    it(name, async () => {
      const dev = runDev({ PORT: String(await freePort()), PGLITE_PORT: String(await freePort()), ...(await makeEnv()) });
      const code = await dev.exited;
      expect(code).not.toBe(0);
      expect(dev.output()).toMatch(message);
      // Nothing else came first: no database, no banner, no token; and never a password.
      expect(dev.output().trim().split("\n")).toHaveLength(1);
      expect(dev.output()).not.toContain("hunter2");
    }, 30_000);
  }

  it("PORT in use (and PGLITE_PORT in use) are named", async () => {
    const busy = createServer();
    await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
    const taken = String((busy.address() as { port: number }).port);
    try {
      for (const [variable, env] of [["PORT", { PORT: taken }], ["PGLITE_PORT", { PORT: String(await freePort()), PGLITE_PORT: taken }]] as const) {
        const dev = runDev(env);
        expect(await dev.exited).not.toBe(0);
        expect(dev.output()).toContain(`${variable}: port ${taken} on 127.0.0.1 is already in use`);
        expect(dev.output().trim().split("\n")).toHaveLength(1);
      }
    } finally {
      busy.close();
    }
  }, 30_000);

  it("a second npm start on the same data directory is refused while the first runs", async () => {
    const url = await freshDatabase();
    const dataDir = join(dir, "data-shared");
    const first = runDev({ DATABASE_URL: url, PORT: String(await freePort()), DEV_DATA_DIR: dataDir });
    try {
      while (!existsSync(join(dataDir, "dev.lock"))) await new Promise((r) => setTimeout(r, 50));
      const second = runDev({ DATABASE_URL: url, PORT: String(await freePort()), DEV_DATA_DIR: dataDir });
      expect(await second.exited).not.toBe(0);
      // (the pid is tsx's node child, the process holding the lock)
      const pid = Number(readFileSync(join(dataDir, "dev.lock"), "utf8"));
      expect(second.output()).toContain(`another \`npm start\` (pid ${pid}) is using ${dataDir}/`);
      expect(first.child.exitCode).toBeNull();
    } finally {
      first.child.kill("SIGTERM");
      await first.exited;
    }
    expect(existsSync(join(dataDir, "dev.lock"))).toBe(false); // released on the way out
  }, 90_000);
});

describe("local env files", () => {
  it("reads .env and .env.local: .env.local wins, the real environment wins over both, blanks are unset", () => {
    const dotenv = join(dir, "t.env"), local = join(dir, "t.env.local");
    writeFileSync(dotenv, "A=from-dotenv\nB=from-dotenv\nC=from-dotenv\nD=from-dotenv\n");
    writeFileSync(local, "B=from-local\nC=from-local\nD=\n# comment\nexport E='quoted'\n");
    const env = loadLocalEnv({ dotenv, local }, { C: "from-process" });
    expect(env).toMatchObject({ A: "from-dotenv", B: "from-local", C: "from-process", D: "from-dotenv", E: "quoted" });
    expect(loadLocalEnv({ dotenv: join(dir, "absent"), local: join(dir, "absent2") }, {})).toEqual({});
  });
});
