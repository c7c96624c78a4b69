// The user-erasure map is complete: every column that refers to a user (a foreign key to
// auth.users, or a column named user_id / *_user_id / *_by), in public, private and auth, is
// listed in USER_DATA (exported by /me/export, deleted by /me/erase) or USER_DATA_KEPT (kept on
// purpose, with the reason). A new one fails here until it is handled.
import { expect } from "vitest";
import { USER_DATA, USER_DATA_KEPT } from "../../shared/compliance/index.ts";
import { test } from "../support/fixtures.ts";

test("every column referring to a user is erased by /me/erase or deliberately kept", async ({ sql }) => {
  const cols = await sql<{ col: string }[]>`
    select c.table_schema::text || '.' || c.table_name::text || '.' || c.column_name::text as col
    from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
    where c.table_schema in ('public', 'private') and c.column_name ~ '(^|_)(user_id|by)$'
    union
    select (cl.relnamespace::regnamespace)::text || '.' || cl.relname || '.' || a.attname
    from pg_constraint k join pg_class cl on cl.oid = k.conrelid join pg_attribute a on a.attrelid = k.conrelid and a.attnum = any(k.conkey)
    where k.contype = 'f' and k.confrelid = 'auth.users'::regclass
    order by 1`;
  expect(cols.length).toBeGreaterThanOrEqual(6);
  const listed = new Set(USER_DATA.map((e) => `public.${e.table}.${e.column}`));
  const missing = cols.map((c) => c.col).filter((c) => !listed.has(c) && !(c in USER_DATA_KEPT));
  expect(missing, "add these to USER_DATA (shared/compliance) or USER_DATA_KEPT with a reason").toEqual([]);
});
