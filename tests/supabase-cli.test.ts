// The real Supabase CLI finds our migrations (supabase/migrations → ../migrations) and the
// table it records them in is the one our own runner uses.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import postgres from "postgres";
import { bootstrapSupabasePlatform, listMigrations, prepareDatabase } from "../scripts/db/migrate.ts";
import { root } from "../scripts/lib/deno.ts";
import { adminSql } from "./support/harness.ts";

let admin: postgres.Sql;
const dbName = `cli_${Date.now()}`;
let url: string;

beforeAll(async () => {
  admin = adminSql();
  await admin.unsafe(`create database ${dbName}`);
  const u = new URL(inject("databaseUrl"));
  u.pathname = `/${dbName}`;
  url = u.href;
});
afterAll(async () => {
  await admin.unsafe(`drop database if exists ${dbName} with (force)`).catch(() => {});
  await admin.end();
});

describe("supabase CLI", () => {
  it("`supabase migration up --db-url` applies every migration, and our runner then has nothing to do", async () => {
    const sql = postgres(url, { max: 1, onnotice: () => {} });
    try {
      await bootstrapSupabasePlatform(sql);
      execFileSync(`${root}node_modules/.bin/supabase`, ["migration", "up", "--yes", "--db-url", url], {
        cwd: root, stdio: "pipe", env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
      });
      const versions = (await sql`select version from supabase_migrations.schema_migrations order by version`).map((r) => r.version);
      expect(versions).toEqual((await listMigrations()).map((m) => m.version));
      const [{ n }] = await sql`select count(*)::int as n from pg_policies where tablename = 'user_secrets'`;
      expect(n).toBe(4);
    } finally {
      await sql.end();
    }
    expect(await prepareDatabase(url)).toEqual([]);
  }, 120_000);

  it("declares every function folder in supabase/config.toml with verify_jwt", async () => {
    const { readFileSync, readdirSync, existsSync } = await import("node:fs");
    const toml = readFileSync(`${root}supabase/config.toml`, "utf8");
    const fns = readdirSync(`${root}functions`).filter((f) => existsSync(`${root}functions/${f}/index.ts`));
    expect(fns.length).toBeGreaterThan(0);
    for (const f of fns) {
      const block = new RegExp(`\\[functions\\.${f}\\][^\\[]*verify_jwt = (true|false)[^\\[]*entrypoint = "\\.\\./functions/${f}/index\\.ts"`);
      expect(toml, f).toMatch(block);
    }
  });
});
