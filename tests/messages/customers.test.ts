// GET /customers, GET /customers/export, GET /customers/{id}, PATCH /customers/{id}
// (functions/messages/routes/customers.ts).
import { describe, expect } from "vitest";
import { emailLookupHash, openCustomerContact, phoneLookupHash } from "../../shared/messaging/index.ts";
import { test, type SealedContact } from "../support/messages.ts";
import { expectError } from "../support/security.ts";
import { createTenant } from "../support/tenancy.ts";

describe("customers", () => {
  test("GET /customers decrypts contact data, pages without gaps, and writes one audit row per request", async ({ arrange, api }) => {
    const w = await arrange.world();
    const same = "2026-06-01T00:00:00.000007Z";
    for (let i = 0; i < 5; i++) await arrange.addCustomer(w.t, { name: `Customer ${i}`, email: `c${i}@example.com`, phone: `+1555000${i}` }, { createdAt: same, tags: ["b2b"] });
    const first = await api("GET", "/customers?limit=4", w.t.users.OPERATOR.token, w.t.id);
    expect(first.status).toBe(200);
    const p1 = await first.json();
    expect(p1.customers).toHaveLength(4);
    expect(Object.keys(p1.customers[0]).sort()).toEqual(["created_at", "email", "id", "name", "phone", "tags"]);
    const p2 = await (await api("GET", `/customers?limit=4&cursor=${p1.next_cursor}`, w.t.users.OPERATOR.token, w.t.id)).json();
    expect(p2.next_cursor).toBeNull();
    const all = [...p1.customers, ...p2.customers];
    expect(all).toHaveLength(6);
    expect(new Set(all.map((c) => c.id)).size).toBe(6);
    expect(all.find((c) => c.id === w.customerId)).toEqual({
      id: w.customerId, name: "Ada Lovelace", phone: `+${w.waId}`, email: "ada@example.com", tags: [], created_at: expect.any(String),
    });
    expect(all.filter((c) => c.tags[0] === "b2b").map((c) => c.name).sort()).toEqual(["Customer 0", "Customer 1", "Customer 2", "Customer 3", "Customer 4"]);
    const audit = await arrange.auditRows(w.t.id, "customers.read");
    expect(audit.map((a) => [a.table_name, a.record_id, a.details])).toEqual([["customers", null, { count: 4 }], ["customers", null, { count: 2 }]]);
    expect(JSON.stringify(audit)).not.toContain("example.com");
  });

  test("GET /customers/:id returns the customer with notes and audits; other tenants' ids are 404", async ({ arrange, api, A, B }) => {
    const res = await api("GET", `/customers/${A.customerId}`, A.t.users.OPERATOR.token, A.t.id);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ id: A.customerId, name: "Ada Lovelace", email: "ada@example.com" });
    expect(body).toHaveProperty("notes");
    const audit = await arrange.auditRows(A.t.id, "customers.read");
    expect(audit.some((a) => a.record_id === A.customerId && a.details.count === 1)).toBe(true);
    await expectError(await api("GET", `/customers/${B.customerId}`, A.t.users.OWNER.token, A.t.id), 404, "Not found");
  });

  test("PATCH re-seals contact data, updates lookup hashes, seals notes, audits the field names", async ({ arrange, api, sql }) => {
    const w = await arrange.world();
    const u = w.t.users.MANAGER;
    const res = await api("PATCH", `/customers/${w.customerId}`, u.token, w.t.id, {
      body: { name: " Ada King ", email: "ada.king@example.net", phone: "+44 20 7946 0000", tags: ["vip", "vip", "wholesale"], notes: "Prefers calls after 6pm, ssn 078-05-1120" },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: w.customerId, name: "Ada King", email: "ada.king@example.net", phone: "+44 20 7946 0000", tags: ["vip", "wholesale"],
      notes: "Prefers calls after 6pm, ssn 078-05-1120", created_at: expect.any(String),
    });
    const keys = await arrange.keysOf(w.t);
    const [row] = await sql`select * from public.customers where id = ${w.customerId}`;
    expect(await openCustomerContact(keys, w.customerId, row as unknown as SealedContact)).toEqual({
      name: "Ada King", email: "ada.king@example.net", phone: "+44 20 7946 0000", wa_id: w.waId,
    });
    expect(row.phone_hash).toBe(await phoneLookupHash(keys, "442079460000"));
    expect(row.email_hash).toBe(await emailLookupHash(keys, "ADA.KING@example.net"));
    expect(row.wa_id_hash).toBe(await phoneLookupHash(keys, w.waId));
    expect(row.notes).toMatch(/^enc:v1:/);
    expect(JSON.stringify(row)).not.toMatch(/Ada|ada\.king|078-05|7946/);
    expect(await arrange.auditRows(w.t.id, "customers.update")).toEqual([expect.objectContaining({
      record_id: w.customerId, user_id: u.id, details: { fields: ["email", "name", "notes", "phone", "tags"] },
    })]);

    // null clears; untouched fields stay
    const cleared = await (await api("PATCH", `/customers/${w.customerId}`, u.token, w.t.id, { body: { email: null, notes: null } })).json();
    expect(cleared).toMatchObject({ name: "Ada King", email: null, notes: null, tags: ["vip", "wholesale"] });
    const [after] = await sql`select email_hash, notes from public.customers where id = ${w.customerId}`;
    expect(after).toEqual({ email_hash: null, notes: null });
  });

  test("PATCH validation → 400, nothing changed; other tenant → 404; OPERATOR → 403 even for a bad body", async ({ arrange, api, sql, B }) => {
    const w = await arrange.world();
    const tk = w.t.users.OWNER.token;
    const [before] = await sql`select contact_encrypted, tags, updated_at from public.customers where id = ${w.customerId}`;
    for (const body of [{}, { email: "nope" }, { name: "" }, { name: "x".repeat(201) }, { phone: "call me" }, { phone: "+1 23" },
      { tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, { tags: [""] }, { notes: "n".repeat(5001) }, { wa_id: "123" }, "nope"]) {
      expect((await api("PATCH", `/customers/${w.customerId}`, tk, w.t.id, { body })).status, JSON.stringify(body)).toBe(400);
    }
    const [after] = await sql`select contact_encrypted, tags, updated_at from public.customers where id = ${w.customerId}`;
    expect(after).toEqual(before);
    await expectError(await api("PATCH", `/customers/${B.customerId}`, tk, w.t.id, { body: { name: "x" } }), 404, "Not found");
    await expectError(await api("PATCH", `/customers/${w.customerId}`, w.t.users.OPERATOR.token, w.t.id, { body: { email: "nope" } }), 403, "Forbidden");
  });

  describe("GET /customers/export", () => {
    test("requires aal2 (403 MFA required, nothing audited) and customers.export", async ({ arrange, api, otherApp }) => {
      const w = await arrange.world();
      await expectError(await api("GET", "/customers/export", w.t.users.OWNER.token, w.t.id), 403, "Multi-factor authentication required");
      await expectError(await api("GET", "/customers/export?format=xml", w.t.users.ADMIN.token, w.t.id), 403, "Multi-factor authentication required");
      await expectError(await api("GET", "/customers/export", w.t.users.MANAGER.mfaToken, w.t.id), 403, "Forbidden");
      await expectError(await api("GET", "/customers/export", w.t.users.MANAGER.token, w.t.id), 403, "Forbidden");
      expect(await arrange.auditRows(w.t.id, "customers.export")).toEqual([]);
      const off = await otherApp({ REQUIRE_MFA_FOR_ADMIN_ACTIONS: "false" });
      expect((await api("GET", "/customers/export", w.t.users.OWNER.token, w.t.id, { app: off })).status).toBe(200);
    });

    test("exports JSON with every customer and writes one audit row with the count", async ({ arrange, api }) => {
      const w = await arrange.world();
      await arrange.addCustomer(w.t, { name: "Second", email: "second@example.com" });
      const res = await api("GET", "/customers/export?format=json", w.t.users.ADMIN.mfaToken, w.t.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="customers.json"');
      expect(res.headers.get("cache-control")).toBe("no-store");
      const body = await res.json();
      expect(body.count).toBe(2);
      expect(body.truncated).toBe(false);
      expect(body.customers.map((c: { name: string }) => c.name)).toEqual(["Second", "Ada Lovelace"]);
      expect(await arrange.auditRows(w.t.id, "customers.export")).toEqual([expect.objectContaining({
        table_name: "customers", record_id: null, user_id: w.t.users.ADMIN.id, details: { count: 2, format: "json" },
      })]);
    });

    test("exports CSV with a header row, RFC 4180 quoting and formula-injection guards", async ({ arrange, api, sql, deps }) => {
      const t = await createTenant(deps, sql, "CSV Co");
      const tricky = await arrange.addCustomer(t, { name: '=HYPERLINK("http://evil.example","click")', email: "@SUM(A1)", phone: "+15550001111" },
        { tags: ["a", "b,c"], createdAt: "2026-07-02T00:00:00Z" });
      const plain = await arrange.addCustomer(t, { name: 'Smith, "Jo"\nline2', email: "jo@example.com", phone: "-5" }, { createdAt: "2026-07-01T00:00:00Z" });
      await sql`update public.customers set notes = 'plain legacy note' where id = ${plain}`;
      const res = await api("GET", "/customers/export?format=csv", t.users.OWNER.mfaToken, t.id);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("text/csv; charset=utf-8");
      expect(res.headers.get("content-disposition")).toBe('attachment; filename="customers.csv"');
      const text = await res.text();
      expect(text).toBe(
        "id,name,phone,email,tags,notes,created_at\r\n" +
        `${tricky},"'=HYPERLINK(""http://evil.example"",""click"")","'+15550001111","'@SUM(A1)","a;b,c",,2026-07-02T00:00:00.000Z\r\n` +
        `${plain},"Smith, ""Jo""\nline2","'-5",jo@example.com,,plain legacy note,2026-07-01T00:00:00.000Z\r\n`,
      );
      expect(await arrange.auditRows(t.id, "customers.export")).toEqual([expect.objectContaining({ details: { count: 2, format: "csv" } })]);
    });
  });
});
