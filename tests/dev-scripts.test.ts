// The developer commands: `npm start` against DATABASE_URL (bootstrap + migrate, or not with
// --no-db-setup) and `npm run token`.
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { decodeJwt } from "jose";
import postgres from "postgres";
import { freePort } from "../scripts/db/server.ts";
import { root, waitForHttp } from "../scripts/lib/deno.ts";
import { adminSql } from "./support/harness.ts";

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
  const child = spawn(tsx, [`${root}scripts/dev.ts`, ...args], {
    cwd: root, env: { ...process.env, LOG_LEVEL: "warn", ...env }, stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, output: () => out };
}

describe("npm start with DATABASE_URL", () => {
  it("bootstraps and migrates a plain server, generates dev secrets, serves the functions and prints a token", async () => {
    const url = await freshDatabase();
    const port = await freePort();
    const envFile = join(dir, "env.local");
    const dev = runDev({ DATABASE_URL: url, PORT: String(port), DEV_ENV_FILE: envFile });
    try {
      await waitForHttp(`http://127.0.0.1:${port}/functions/v1/`, 60_000, dev.child);
      const until = Date.now() + 20_000;
      while (!dev.output().includes("TOKEN=") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      const token = /TOKEN=(\S+)/.exec(dev.output())![1];
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
