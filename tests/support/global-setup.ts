// One database for the whole run: TEST_DATABASE_URL, a throw-away PostgreSQL, or PGlite.
import type { TestProject } from "vitest/node";
import { prepareDatabase } from "../../scripts/db/migrate.ts";
import { startTestDatabase } from "../../scripts/db/server.ts";

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    databaseKind: string;
  }
}

export default async function setup(project: TestProject) {
  const db = await startTestDatabase();
  console.log(`[tests] database: ${db.kind === "pglite" ? "PGlite (embedded fallback)" : db.kind === "postgres" ? "PostgreSQL (throw-away cluster)" : "TEST_DATABASE_URL"}`);
  await prepareDatabase(db.url);
  project.provide("databaseUrl", db.url);
  project.provide("databaseKind", db.kind);
  return async () => {
    await db.stop();
  };
}
