// The set-up most integration tests share, as vitest fixtures instead of beforeAll/afterAll in
// every file: one Deps (real pool, real migrations) and one superuser connection per file,
// closed after it; a fresh tenant (one user per role) per test that asks for one.
//
//   import { test } from "./support/fixtures.ts";
//   test("…", async ({ deps, sql, tenant }) => { … });
import { test as base } from "vitest";
import type postgres from "postgres";
import type { Deps } from "../../shared/runtime/deps.ts";
import { adminSql, testDeps } from "./harness.ts";
import { createTenant, type Tenant } from "./tenancy.ts";

export const test = base
  .extend("deps", { scope: "file" }, async ({}, { onCleanup }) => {
    const deps = await testDeps();
    onCleanup(() => deps.db.end());
    return deps as Deps;
  })
  .extend("sql", { scope: "file" }, async ({}, { onCleanup }) => {
    const sql = adminSql();
    onCleanup(() => sql.end());
    return sql as postgres.Sql;
  })
  .extend("tenant", async ({ deps, sql }) => (await createTenant(deps, sql)) as Tenant);
