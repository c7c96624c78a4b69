// Applies scripts/db/bootstrap.sql (local/test only) and migrations/*.sql in order.
// Applied versions are recorded in supabase_migrations.schema_migrations, the table the
// Supabase CLI uses, so `supabase migration list --db-url` agrees with this runner.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import postgres from "postgres";

const root = new URL("../../", import.meta.url).pathname;
export const migrationsDir = join(root, "migrations");

export async function bootstrapSupabasePlatform(sql: postgres.Sql): Promise<void> {
  await sql.unsafe(await readFile(join(root, "scripts/db/bootstrap.sql"), "utf8"));
}

export async function listMigrations(): Promise<{ version: string; name: string; file: string }[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{14}_.+\.sql$/.test(f)).sort();
  return files.map((file) => ({ version: file.slice(0, 14), name: file.slice(15, -4), file: join(migrationsDir, file) }));
}

export async function applyMigrations(sql: postgres.Sql): Promise<string[]> {
  await sql.unsafe(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (
      version text primary key, statements text[], name text);`);
  const done = new Set((await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version));
  const applied: string[] = [];
  for (const m of await listMigrations()) {
    if (done.has(m.version)) continue;
    const text = await readFile(m.file, "utf8");
    await sql.begin(async (tx) => {
      await tx.unsafe(text);
      await tx`insert into supabase_migrations.schema_migrations (version, name, statements)
               values (${m.version}, ${m.name}, ${[text]})`;
    });
    applied.push(m.version);
  }
  return applied;
}

/** Bootstrap (unless skipped) and migrate the database at `url`. */
export async function prepareDatabase(url: string, opts: { bootstrap?: boolean } = {}): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    if (opts.bootstrap !== false) await bootstrapSupabasePlatform(sql);
    return await applyMigrations(sql);
  } finally {
    await sql.end();
  }
}
