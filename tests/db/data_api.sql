-- The Data API rule: what Supabase's PostgREST exposes (schema `public`, as role `authenticated`
-- with the caller's own JWT) can bypass nothing the edge functions enforce (encryption, masking,
-- the role rules, audit). Every table in `public` is enumerated from the catalog, so a table added
-- later is covered without touching this file. The functions act for users as `edge_user`, a
-- member of `authenticated` that PostgREST cannot become.
-- Run with tests/db/run-pgtap.ts (pg_prove). Everything happens in one rolled-back transaction.
begin;

-- Tables, views, materialized views and foreign tables of `public`, not owned by an extension.
create temporary view api_relations as
  select c.oid::regclass as rel, c.relkind
  from pg_class c
  where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
    and not exists (select 1 from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = c.oid and d.deptype = 'e');
grant select on api_relations to public;

select plan(
  (select count(*)::int from api_relations) * 2               -- privileges of authenticated and anon
  + (select count(*)::int from api_relations where relkind in ('r', 'p')) * 5 -- RLS on + 4 attempts
  + 51);

-- Arrange (as the login superuser): two distributors with a row in every tenant table, and
-- Alice (OWNER of A: every permission) with a secret and a secret audit row.
insert into auth.users (id, email) values
  ('a1000000-0000-4000-8000-0000000000d1', 'alice@data-api.test'),
  ('b1000000-0000-4000-8000-0000000000d2', 'bella@data-api.test');
insert into public.distributors (id, name) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'Distributor A'),
  ('bbbbbbbb-0000-4000-8000-0000000000db', 'Distributor B');
insert into public.distributor_members (distributor_id, user_id, role) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'a1000000-0000-4000-8000-0000000000d1', 'OWNER'),
  ('bbbbbbbb-0000-4000-8000-0000000000db', 'b1000000-0000-4000-8000-0000000000d2', 'OWNER');
insert into public.encryption_keys (distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'data', 1, 'wrapped-a', 'iv-a', 1);
insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version) values
  ('aaaaaaaa-0001-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', '1000000091', '+1 555 0091', 'token-ct-a', 'iv', 1);
insert into public.customers (id, distributor_id, wa_id_hash, notes) values
  ('aaaaaaaa-0002-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', 'hash-a', 'sealed notes'),
  ('bbbbbbbb-0002-4000-8000-0000000000db', 'bbbbbbbb-0000-4000-8000-0000000000db', 'hash-b', 'sealed notes');
insert into public.conversations (id, distributor_id, customer_id, preview) values
  ('aaaaaaaa-0003-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0002-4000-8000-0000000000da', 'Hi [PHONE]'),
  ('bbbbbbbb-0003-4000-8000-0000000000db', 'bbbbbbbb-0000-4000-8000-0000000000db', 'bbbbbbbb-0002-4000-8000-0000000000db', 'Hi [EMAIL]');
insert into public.messages (id, distributor_id, conversation_id, external_id, direction, message_type, status, preview,
                             content_encrypted, content_iv, key_version) values
  ('aaaaaaaa-0004-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0003-4000-8000-0000000000da',
   'wamid.da', 'inbound', 'text', 'received', 'Hi [PHONE]', 'ct', 'iv', 1),
  ('bbbbbbbb-0004-4000-8000-0000000000db', 'bbbbbbbb-0000-4000-8000-0000000000db', 'bbbbbbbb-0003-4000-8000-0000000000db',
   'wamid.db', 'inbound', 'text', 'received', 'Hi [EMAIL]', 'ct', 'iv', 1);
insert into public.orders (id, distributor_id, customer_id, items) values
  ('aaaaaaaa-0005-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0002-4000-8000-0000000000da', '[{"sku":"A","quantity":1}]');
insert into public.pii_detection_results (distributor_id, message_id, pii_types, counts) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0004-4000-8000-0000000000da', '{phone}', '{"phone":1}');
insert into public.data_access_audit (distributor_id, user_id, action) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'a1000000-0000-4000-8000-0000000000d1', 'customers.read');
insert into public.event_outbox (distributor_id, event_type, payload) values
  ('aaaaaaaa-0000-4000-8000-0000000000da', 'message.received', '{}');
insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound) values
  ('a1000000-0000-4000-8000-0000000000d1', 'openai_api_key_encrypted', 'alice-ct', 'alice-iv', 1, true);
insert into public.secret_audit_logs (user_id, service_name, operation, success) values
  ('a1000000-0000-4000-8000-0000000000d1', 'openai_api_key_encrypted', 'create', true);

-- ---------------------------------------------------------------- the catalog, for every relation
select ok(not (has_table_privilege('authenticated', rel, 'INSERT') or has_table_privilege('authenticated', rel, 'UPDATE')
            or has_table_privilege('authenticated', rel, 'DELETE') or has_table_privilege('authenticated', rel, 'TRUNCATE')
            or has_table_privilege('authenticated', rel, 'REFERENCES') or has_table_privilege('authenticated', rel, 'TRIGGER')
            or has_any_column_privilege('authenticated', rel, 'INSERT') or has_any_column_privilege('authenticated', rel, 'UPDATE')),
  rel::text || ': authenticated holds no INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES or TRIGGER (not even on a column)')
  from api_relations order by rel::text;
select ok(not (has_any_column_privilege('anon', rel, 'SELECT') or has_any_column_privilege('anon', rel, 'INSERT')
            or has_any_column_privilege('anon', rel, 'UPDATE') or has_table_privilege('anon', rel, 'DELETE')
            or has_table_privilege('anon', rel, 'TRUNCATE') or has_table_privilege('anon', rel, 'REFERENCES')
            or has_table_privilege('anon', rel, 'TRIGGER')),
  rel::text || ': anon holds no privilege at all')
  from api_relations order by rel::text;
select ok((select relrowsecurity from pg_class where oid = rel), rel::text || ': row level security is on')
  from api_relations where relkind in ('r', 'p') order by rel::text;

-- Reads the API audits, audit rows, keys and internal tables: not readable through the Data API.
select ok(not has_any_column_privilege('authenticated', t, 'SELECT'), t || ': authenticated cannot read it directly')
  from unnest(array['public.customers', 'public.orders', 'public.user_secrets', 'public.data_access_audit',
                    'public.secret_audit_logs', 'public.event_outbox', 'public.encryption_keys']) t;
select ok(not has_column_privilege('authenticated', 'public.whatsapp_accounts', c, 'SELECT'), 'whatsapp_accounts.' || c || ': not readable by authenticated')
  from unnest(array['access_token_encrypted', 'access_token_iv']) c;

-- Functions: nothing security definer in the exposed schema, nothing there a user may call,
-- and the access-token hook is Supabase Auth's alone.
select is_empty($$
  select p.oid::regprocedure::text from pg_proc p
  where p.pronamespace = 'public'::regnamespace and p.prosecdef
    and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')$$,
  'no security definer function in schema public');
select is_empty($$
  select p.oid::regprocedure::text || ' by ' || r from pg_proc p, unnest(array['anon', 'authenticated']) r
  where p.pronamespace = 'public'::regnamespace and has_function_privilege(r, p.oid, 'execute')
    and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')$$,
  'no function in schema public is executable by anon or authenticated (no RPC through the Data API)');
select is(array(
  select r.rolname::text from pg_roles r, pg_proc p
  where p.oid = 'public.custom_access_token_hook(jsonb)'::regprocedure and not r.rolsuper and r.oid <> p.proowner
    and has_function_privilege(r.oid, p.oid, 'execute') order by 1),
  array['supabase_auth_admin'],
  'custom_access_token_hook is executable only by supabase_auth_admin');
select ok(not has_function_privilege('authenticated', f, 'execute'), f || ': not executable by authenticated')
  from unnest(array['private.write_data_access_audit(uuid, uuid, text, text, uuid, inet, text, jsonb)',
                    'private.write_secret_audit(uuid, text, text, inet, text, boolean, text)',
                    'private.distributor_wrapped_keys(uuid)']) f;

-- The functions' role.
select ok(exists (select 1 from pg_roles where rolname = 'edge_user' and not rolcanlogin and not rolsuper
                  and not rolbypassrls and not rolcreaterole and not rolcreatedb and rolinherit),
  'edge_user exists: NOLOGIN, INHERIT, no superuser, no BYPASSRLS, cannot create roles or databases');
select ok(pg_has_role('edge_user', 'authenticated', 'usage'), 'edge_user is a member of authenticated (its policies and grants apply)');
select is_empty($$
  select r.rolname from pg_roles r
  where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator') and pg_has_role(r.oid, 'edge_user'::regrole, 'member')$$,
  'no role PostgREST can act as (anon, authenticated, service_role, its login role authenticator) is a member of edge_user');

-- Every column a policy filters on (USING) has an index that leads with it.
select is_empty($$
  select format('%s.%s (policy %s)', p.tablename, a.attname, p.policyname)
  from pg_policies p
  join pg_attribute a on a.attrelid = format('%I.%I', p.schemaname, p.tablename)::regclass and a.attnum > 0 and not a.attisdropped
  where p.schemaname = 'public' and p.qual ~ ('\m' || a.attname || '\M')
    and not exists (select 1 from pg_index i where i.indrelid = a.attrelid and i.indkey[0] = a.attnum)$$,
  'every column a policy filters on leads an index');

-- ---------------------------------------------------------------- as Alice (OWNER of A) through the Data API
set local role authenticated;
set local request.jwt.claims to '{"sub":"a1000000-0000-4000-8000-0000000000d1","role":"authenticated","aal":"aal2"}';

select is(auth.uid(), 'a1000000-0000-4000-8000-0000000000d1'::uuid, 'the claims are Alice''s');

-- Every table, every write, as a member holding every permission: refused.
select throws_ok(format('insert into %s default values', rel), '42501', null, rel::text || ': direct INSERT refused')
  from api_relations where relkind in ('r', 'p') order by rel::text;
select throws_ok(format('update %s set %I = %I', rel, a.attname, a.attname), '42501', null, rel::text || ': direct UPDATE refused')
  from api_relations
  join lateral (select attname from pg_attribute where attrelid = rel and attnum > 0 and not attisdropped order by attnum limit 1) a on true
  where relkind in ('r', 'p') order by rel::text;
select throws_ok(format('delete from %s', rel), '42501', null, rel::text || ': direct DELETE refused')
  from api_relations where relkind in ('r', 'p') order by rel::text;
select throws_ok(format('truncate %s cascade', rel), '42501', null, rel::text || ': TRUNCATE refused')
  from api_relations where relkind in ('r', 'p') order by rel::text;

-- The bypasses the issue names, spelled out.
select throws_ok($$insert into public.messages (distributor_id, conversation_id, direction, message_type, status, preview)
  values ('aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0003-4000-8000-0000000000da', 'outbound', 'text', 'sent', 'call me on +1 555 0100, card 4111 1111 1111 1111')$$,
  '42501', null, 'an OWNER cannot insert a message with a clear-text preview, unsealed and unaudited');
select throws_ok($$update public.messages set preview = 'clear text' where id = 'aaaaaaaa-0004-4000-8000-0000000000da'$$,
  '42501', null, 'an OWNER cannot rewrite a message''s masked preview');
select throws_ok($$update public.messages set deleted_at = now() where id = 'aaaaaaaa-0004-4000-8000-0000000000da'$$,
  '42501', null, 'an OWNER cannot soft-delete a message without the audit row');
select throws_ok($$delete from public.messages where id = 'aaaaaaaa-0004-4000-8000-0000000000da'$$,
  '42501', null, 'an OWNER cannot hard-delete a message');
select throws_ok($$update public.conversations set preview = 'clear text' where id = 'aaaaaaaa-0003-4000-8000-0000000000da'$$,
  '42501', null, 'an OWNER cannot rewrite a conversation''s preview');
select throws_ok($$insert into public.customers (distributor_id, notes) values ('aaaaaaaa-0000-4000-8000-0000000000da', 'clear notes')$$,
  '42501', null, 'an OWNER cannot insert an unsealed customer');
select throws_ok($$update public.orders set status = 'confirmed' where id = 'aaaaaaaa-0005-4000-8000-0000000000da'$$,
  '42501', null, 'an OWNER cannot confirm an order without the audit row');
select throws_ok($$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
  values ('a1000000-0000-4000-8000-0000000000d1', 'mistral_api_key_encrypted', 'sk-plaintext', 'none')$$,
  '42501', null, 'a user cannot store an unencrypted secret in the vault');
select throws_ok($$update public.user_secrets set is_active = false where user_id = auth.uid()$$,
  '42501', null, 'a user cannot change a vault row without the audit row');
select throws_ok($$delete from public.user_secrets where user_id = auth.uid()$$, '42501', null, 'a user cannot delete vault rows');
select throws_ok($$delete from public.data_access_audit$$, '42501', null, 'an OWNER cannot erase the audit');

-- Reads that would skip the read audit, or reveal what only the functions hold.
select throws_ok($$select notes from public.customers$$, '42501', null, 'customers: no direct read (the API audits it)');
select throws_ok($$select items from public.orders$$, '42501', null, 'orders: no direct read (the API audits it)');
select throws_ok($$select encrypted_value from public.user_secrets$$, '42501', null, 'user_secrets: no direct read (the API audits it)');
select throws_ok($$select * from public.data_access_audit$$, '42501', null, 'data_access_audit: no direct read');
select throws_ok($$select private.write_data_access_audit('aaaaaaaa-0000-4000-8000-0000000000da', 'a1000000-0000-4000-8000-0000000000d1',
  'forged', null, null, null, null, '{}')$$, '42501', null, 'the audit writer is not callable as authenticated');
select throws_ok($$select * from private.distributor_wrapped_keys('aaaaaaaa-0000-4000-8000-0000000000da')$$,
  '42501', null, 'wrapped keys are not readable as authenticated');

-- What stays readable (under RLS): the rows the API lists unaudited, masked (Realtime needs them).
select results_eq($$select id from public.conversations$$, $$values ('aaaaaaaa-0003-4000-8000-0000000000da'::uuid)$$,
  'conversations: Alice reads A''s (masked previews), not B''s');
select results_eq($$select preview from public.messages$$, $$values ('Hi [PHONE]'::text)$$,
  'messages: Alice reads A''s masked preview, not B''s');

-- ---------------------------------------------------------------- the same member through the functions (edge_user)
reset role;
set local role edge_user;
select lives_ok($$insert into public.messages (id, distributor_id, conversation_id, direction, message_type, status, preview, content_encrypted, content_iv, key_version)
  values ('aaaaaaaa-0014-4000-8000-0000000000da', 'aaaaaaaa-0000-4000-8000-0000000000da', 'aaaaaaaa-0003-4000-8000-0000000000da',
          'outbound', 'text', 'sent', 'Sent [PHONE]', 'ct2', 'iv2', 1)$$,
  'edge_user: the send route''s insert works for an OWNER');
select isnt_empty($$update public.messages set deleted_at = now() where id = 'aaaaaaaa-0014-4000-8000-0000000000da' returning id$$,
  'edge_user: the soft delete works');
select throws_ok($$delete from public.messages where id = 'aaaaaaaa-0014-4000-8000-0000000000da'$$, '42501', null,
  'edge_user: no hard delete either');
select throws_ok($$insert into public.messages (distributor_id, conversation_id, direction, message_type, status)
  values ('bbbbbbbb-0000-4000-8000-0000000000db', 'bbbbbbbb-0003-4000-8000-0000000000db', 'outbound', 'text', 'sent')$$,
  '42501', null, 'edge_user: the policies still keep Alice out of B');
select lives_ok($$select private.write_data_access_audit('aaaaaaaa-0000-4000-8000-0000000000da', 'a1000000-0000-4000-8000-0000000000d1',
  'messages.send', 'messages', 'aaaaaaaa-0014-4000-8000-0000000000da', null, null, '{}')$$, 'edge_user: the audit writer works');
select is((select count(*)::int from public.customers), 1, 'edge_user: reads A''s customers (the API audits them)');
select is((select count(*)::int from public.user_secrets), 1, 'edge_user: reads Alice''s own secret only');

-- ---------------------------------------------------------------- assert as the superuser: nothing landed
reset role;
select results_eq($$select id, preview, deleted_at is null from public.messages order by id$$,
  $$values ('aaaaaaaa-0004-4000-8000-0000000000da'::uuid, 'Hi [PHONE]'::text, true),
           ('aaaaaaaa-0014-4000-8000-0000000000da', 'Sent [PHONE]', false),
           ('bbbbbbbb-0004-4000-8000-0000000000db', 'Hi [EMAIL]', true)$$,
  'messages: only the functions'' insert and soft delete landed');
select is((select count(*)::int from public.customers where notes = 'clear notes'), 0, 'no unsealed customer landed');
select results_eq($$select status from public.orders$$, $$values ('pending'::text)$$, 'the order is still pending');
select results_eq($$select encrypted_value, is_active from public.user_secrets$$, $$values ('alice-ct'::text, true)$$,
  'the vault holds only Alice''s sealed secret, active');
select is((select count(*)::int from public.data_access_audit), 2, 'the audit holds its row and the functions'' one');

select * from finish();
rollback;
