// The erasure map is complete: every table of `public` with a customer_id, conversation_id or
// message_id column (enumerated from the catalog) is listed in CUSTOMER_DATA (exported and
// erased) or in CUSTOMER_DATA_KEPT (kept on purpose, documented). A new table fails here until
// it is handled.
import { expect } from "vitest";
import { CUSTOMER_DATA, CUSTOMER_DATA_KEPT } from "../../shared/compliance/index.ts";
import { test } from "../support/fixtures.ts";

test("every customer_id / conversation_id / message_id column of public is erased or deliberately kept", async ({ sql }) => {
  const cols = await sql<{ table_name: string; column_name: string }[]>`
    select c.table_name::text, c.column_name::text from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name and t.table_type = 'BASE TABLE'
    where c.table_schema = 'public' and c.column_name in ('customer_id', 'conversation_id', 'message_id', 'inbound_message_id')
    order by 1, 2`;
  expect(cols.length).toBeGreaterThanOrEqual(4); // conversations, orders ×2, messages, pii_detection_results…
  const listed = new Set(CUSTOMER_DATA.map((e) => `${e.table}.${e.column}`));
  const missing = cols.filter((c) => !listed.has(`${c.table_name}.${c.column_name}`) && !(c.table_name in CUSTOMER_DATA_KEPT))
    .map((c) => `${c.table_name}.${c.column_name}`);
  expect(missing, "add these to CUSTOMER_DATA (shared/compliance) or CUSTOMER_DATA_KEPT with a reason").toEqual([]);
  // And the customers table itself is the last thing erased (leaves first).
  expect(CUSTOMER_DATA[CUSTOMER_DATA.length - 1]).toEqual({ table: "customers", column: "id", refers: "customer" });
});
