// GET /customers, GET /customers/export, GET /customers/{id}, PATCH /customers/{id}.
// Contact data (name, phone, email, WhatsApp id) is sealed per row (shared/messaging); staff
// notes are sealed too (see sealNotes). Every read of decrypted contact data is audited: one
// data_access_audit row per request, in the request's transaction.
import { z } from "@hono/zod-openapi";
import { ApiError, json, jsonBody, route, type Router } from "../../../shared/http/index.ts";
import {
  emailLookupHash, openCustomerContact, phoneLookupHash, sealCustomerContact, type CustomerContact,
} from "../../../shared/messaging/index.ts";
import { openFor, sealFor, tenant, type DistributorKeys } from "../../../shared/tenancy/index.ts";
import { auditedPage, DistributorHeaders, NO_STORE, pageQuery, uuidParam, type RouteContext } from "./context.ts";
import { text, toIso } from "../../../shared/schemas/index.ts";
import { csvCell, csvRow } from "../../../shared/csv/index.ts";

/** Rows an export returns at most (newest first); beyond it the export says truncated. */
export const EXPORT_MAX_ROWS = 10_000;

const Customer = z.object({
  id: z.string().uuid(),
  name: z.string().nullable(),
  phone: z.string().nullable(),
  email: z.string().nullable(),
  tags: z.array(z.string()),
  created_at: z.string(),
}).openapi("Customer");

const CustomerDetail = Customer.extend({ notes: z.string().nullable() }).openapi("CustomerDetail");

const CustomerList = z.object({ customers: z.array(Customer), next_cursor: z.string().nullable() }).openapi("CustomerList");

const CustomerExport = z.object({
  customers: z.array(CustomerDetail),
  count: z.number().int(),
  truncated: z.boolean().openapi({ description: `true when more than ${EXPORT_MAX_ROWS} customers exist (newest exported)` }),
}).openapi("CustomerExport");

const PHONE = /^\+?[0-9][0-9 ()\-.]{3,30}$/;
const digits = (s: string) => s.replace(/\D/g, "").length;

export const CustomerPatch = z.object({
  name: text().trim().min(1).max(200).nullable().optional(),
  email: z.string().trim().max(254).pipe(z.email()).nullable().optional(),
  phone: z.string().trim().regex(PHONE).refine((p) => digits(p) >= 5 && digits(p) <= 15).nullable().optional()
    .openapi({ description: "5..15 digits; +, spaces, dots, dashes and parentheses allowed" }),
  tags: z.array(text().trim().min(1).max(50)).max(20).optional(),
  notes: text().max(5000).nullable().optional(),
}).strict().refine((o) => Object.keys(o).length > 0, { message: "nothing to change" }).openapi("CustomerPatch");

const IdParam = z.object({ id: uuidParam("id") });
const ExportQuery = z.object({
  format: z.enum(["json", "csv"]).default("json").openapi({ param: { name: "format", in: "query" } }),
});

interface CustomerRow {
  id: string;
  contact_encrypted: string | null;
  contact_iv: string | null;
  key_version: number | null;
  tags: string[];
  notes: string | null;
  created_at: string;
}

type CustomerOut = z.infer<typeof CustomerDetail>;

// customers.notes is a text column: staff notes are stored there sealed, in a self-describing
// form, bound to the row (AAD customer_notes:<id>). A value without the prefix is read as is.
const NOTES_PREFIX = "enc:v1:";

export async function sealNotes(keys: DistributorKeys, customerId: string, notes: string): Promise<string> {
  const s = await sealFor(keys, "customer_notes", customerId, notes);
  return `${NOTES_PREFIX}${s.keyVersion}:${s.iv}:${s.encryptedValue}`;
}

export async function openNotes(keys: DistributorKeys, customerId: string, stored: string | null): Promise<string | null> {
  if (stored == null || !stored.startsWith(NOTES_PREFIX)) return stored;
  const [version, iv, ct] = stored.slice(NOTES_PREFIX.length).split(":");
  return await openFor(keys, "customer_notes", customerId, { keyVersion: Number(version), iv, encryptedValue: ct });
}

async function toCustomer(keys: DistributorKeys, r: CustomerRow): Promise<CustomerOut> {
  let contact: CustomerContact;
  let notes: string | null;
  try {
    [contact, notes] = await Promise.all([openCustomerContact(keys, r.id, r), openNotes(keys, r.id, r.notes)]);
  } catch {
    throw new ApiError("internal", {}, `customer ${r.id} did not decrypt`);
  }
  return {
    id: r.id,
    name: contact.name ?? null,
    phone: contact.phone ?? null,
    email: contact.email ?? null,
    tags: r.tags,
    notes,
    created_at: toIso(r.created_at),
  };
}

const listItem = ({ notes: _n, ...c }: CustomerOut) => c;

// CSV: the one injection-safe writer (shared/csv), as audit-query's exports use it.
export { csvCell };

export function customersCsv(rows: CustomerOut[]): string {
  const header = ["id", "name", "phone", "email", "tags", "notes", "created_at"];
  return csvRow(header) + rows.map((r) => csvRow([r.id, r.name, r.phone, r.email, r.tags.join(";"), r.notes, r.created_at])).join("");
}

export function customerRoutes(api: Router, { deps, auth }: RouteContext): void {
  api.openapi(route({
    method: "get", path: "/customers", tags: ["customers"], operationId: "listCustomers",
    summary: "List customers, newest first, contact data decrypted (customers.read; audited)",
    middleware: [auth, tenant(deps, "customers.read")] as const,
    request: { headers: DistributorHeaders, query: z.object(pageQuery) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(CustomerList, "A page of customers", NO_STORE) },
  }), async (c) => {
    const q = c.req.valid("query");
    const t = c.get("tenant");
    const result = await t.transaction(async (tx) => {
      const p = await auditedPage<CustomerRow>(tx, t, {
        rows: tx`select id, contact_encrypted, contact_iv, key_version, tags, notes, created_at
                 from public.customers where distributor_id = ${t.id}`,
        cursor: q.cursor, limit: q.limit, action: "customers.read", table: "customers",
      });
      const keys = await t.keys(tx);
      const customers = await Promise.all(p.items.map((x) => toCustomer(keys, x)));
      return { customers: customers.map(listItem), next_cursor: p.next_cursor };
    });
    return c.json(result, 200);
  });

  // Before /customers/{id}, which would otherwise take "export" as an id.
  api.openapi(route({
    method: "get", path: "/customers/export", tags: ["customers"], operationId: "exportCustomers",
    summary: "Export customers as JSON or CSV (customers.export; aal2 when REQUIRE_MFA_FOR_ADMIN_ACTIONS; audited)",
    description: `At most ${EXPORT_MAX_ROWS} customers, newest first; CSV cells that start with = + - @ are prefixed ` +
      "with a single quote so spreadsheets do not run them as formulas. A signed-out session is refused (401).",
    middleware: [auth, tenant(deps, "customers.export")] as const,
    request: { headers: DistributorHeaders, query: ExportQuery },
    errors: ["forbidden", "mfa_required", "not_found"],
    responses: {
      200: {
        description: "The export",
        headers: {
          "Content-Disposition": { description: "`attachment; filename=\"customers.json\"` or `customers.csv`", schema: { type: "string" } },
          "X-Export-Truncated": {
            description: `\`true\` when more than ${EXPORT_MAX_ROWS} customers exist (the newest are exported); absent otherwise`,
            schema: { type: "string", enum: ["true"] },
          },
          ...NO_STORE,
        },
        content: {
          "application/json": { schema: CustomerExport },
          "text/csv": { schema: z.string().openapi({ example: "id,name,phone,email,tags,notes,created_at\r\n" }) },
        },
      },
    },
  }), async (c) => {
    const { format } = c.req.valid("query");
    const t = c.get("tenant");
    const out = await t.transaction(async (tx) => {
      const [r] = await tx<{ rows: CustomerRow[] }[]>`
        with pg as (
          select id, contact_encrypted, contact_iv, key_version, tags, notes, created_at
          from public.customers where distributor_id = ${t.id}
          order by created_at desc, id desc
          limit ${EXPORT_MAX_ROWS + 1}
        ), audit as (
          select ${t.auditCall(tx, "customers.export", "customers", {
            detailsSql: tx`jsonb_build_object('count', least(count(*), ${EXPORT_MAX_ROWS}), 'format', ${format}::text)`,
          })}
          from pg
        )
        select (select count(*) from audit)::int as audited,
               coalesce((select json_agg(pg order by pg.created_at desc, pg.id desc) from pg), '[]'::json) as rows`;
      const keys = await t.keys(tx);
      const truncated = r.rows.length > EXPORT_MAX_ROWS;
      const customers = await Promise.all(r.rows.slice(0, EXPORT_MAX_ROWS).map((x) => toCustomer(keys, x)));
      return { customers, truncated };
    });
    c.header("Content-Disposition", `attachment; filename="customers.${format}"`);
    if (out.truncated) c.header("X-Export-Truncated", "true");
    if (format === "csv") {
      return c.body(customersCsv(out.customers), 200, { "Content-Type": "text/csv; charset=utf-8" }) as never;
    }
    return c.json({ customers: out.customers, count: out.customers.length, truncated: out.truncated }, 200);
  });

  api.openapi(route({
    method: "get", path: "/customers/{id}", tags: ["customers"], operationId: "getCustomer",
    summary: "One customer, with notes (customers.read; audited)",
    middleware: [auth, tenant(deps, "customers.read")] as const,
    request: { headers: DistributorHeaders, params: IdParam },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(CustomerDetail, "The customer", NO_STORE) },
  }), async (c) => {
    const { id } = c.req.valid("param");
    const t = c.get("tenant");
    const customer = await t.transaction(async (tx) => {
      const [row] = await tx<CustomerRow[]>`
        with cu as (
          select id, contact_encrypted, contact_iv, key_version, tags, notes, to_json(created_at) #>> '{}' as created_at
          from public.customers where id = ${id} and distributor_id = ${t.id}
        ), audit as (
          select ${t.auditCall(tx, "customers.read", "customers", { recordIdSql: tx`cu.id`, detailsSql: tx`'{"count": 1}'::jsonb` })}
          from cu
        )
        select cu.*, (select count(*) from audit)::int as audited from cu`;
      await t.verified();
      if (!row) throw new ApiError("not_found", {}, "customer not visible");
      return await toCustomer(await t.keys(tx), row);
    });
    return c.json(customer, 200);
  });

  api.openapi(route({
    method: "patch", path: "/customers/{id}", tags: ["customers"], operationId: "updateCustomer",
    summary: "Change a customer's name, email, phone, tags or notes (customers.write; audited)",
    description: "null clears a field. Contact data is re-sealed and its lookup hashes recomputed.",
    middleware: [auth, tenant(deps, "customers.write")] as const,
    request: { headers: DistributorHeaders, params: IdParam, body: jsonBody(CustomerPatch) },
    errors: ["forbidden", "not_found"],
    responses: { 200: json(CustomerDetail, "The updated customer", NO_STORE) },
  }), async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const t = c.get("tenant");
    const customer = await t.transaction(async (tx) => {
      const [cur] = await tx<CustomerRow[]>`
        select id, contact_encrypted, contact_iv, key_version, tags, notes, created_at
        from public.customers where id = ${id} and distributor_id = ${t.id}
        for update`;
      await t.verified();
      if (!cur) throw new ApiError("not_found", {}, "customer not visible");
      const keys = await t.keys(tx);
      let contact: CustomerContact;
      try {
        contact = await openCustomerContact(keys, id, cur);
      } catch {
        throw new ApiError("internal", {}, `customer ${id} did not decrypt`);
      }
      const next: CustomerContact = { ...contact };
      if (patch.name !== undefined) next.name = patch.name;
      if (patch.email !== undefined) next.email = patch.email;
      if (patch.phone !== undefined) next.phone = patch.phone;
      const [sealed, phoneHash, emailHash, notes] = await Promise.all([
        sealCustomerContact(keys, id, next),
        next.phone ? phoneLookupHash(keys, next.phone) : null,
        next.email ? emailLookupHash(keys, next.email) : null,
        patch.notes ? sealNotes(keys, id, patch.notes) : null,
      ]);
      const tags = patch.tags ? [...new Set(patch.tags)] : null;
      const fields = Object.keys(patch).sort();
      const [row] = await tx<CustomerRow[]>`
        with u as (
          update public.customers set
            contact_encrypted = ${sealed.contact_encrypted}, contact_iv = ${sealed.contact_iv}, key_version = ${sealed.key_version},
            phone_hash = ${phoneHash}, email_hash = ${emailHash},
            tags = ${tags ? tx`array(select jsonb_array_elements_text(${tx.json(tags)}))` : tx`tags`},
            notes = ${patch.notes !== undefined ? tx`${notes}` : tx`notes`},
            updated_at = now()
          where id = ${id} and distributor_id = ${t.id}
          returning id, contact_encrypted, contact_iv, key_version, tags, notes, to_json(created_at) #>> '{}' as created_at
        ), audit as (
          select ${t.auditCall(tx, "customers.update", "customers", {
            recordIdSql: tx`u.id`, detailsSql: tx`jsonb_build_object('fields', ${tx.json(fields)}::jsonb)`,
          })}
          from u
        ), ev as (
          -- outbound webhooks: ids only, in this transaction (migration 20261202004200)
          insert into public.event_outbox (distributor_id, event_type, payload)
          select ${t.id}, 'customer.updated', jsonb_build_object('customer_id', u.id) from u
        )
        select u.*, (select count(*) from audit)::int as audited from u`;
      if (!row) throw new ApiError("not_found", {}, "customer not updatable");
      return await toCustomer(keys, row);
    });
    return c.json(customer, 200);
  });
}
