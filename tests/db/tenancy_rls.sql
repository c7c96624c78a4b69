-- Tenant isolation of the messaging tables: acting for a member of distributor A, the edge
-- functions' role (`edge_user`, under the policies `TO authenticated`) reaches none of B's rows,
-- cannot write into B's tables, cannot write membership or keys at all, never reads wrapped keys
-- or WhatsApp tokens; anon reaches nothing. What the Data API's `authenticated` may do directly
-- is tests/db/data_api.sql.
-- Run with tests/db/run-pgtap.ts (pg_prove). Everything happens in one rolled-back transaction.
begin;
select plan(78);

-- Arrange (as the login superuser): two distributors with a row in every tenant table.
--   A: Alice OWNER, Oscar OPERATOR        B: Bella OWNER
insert into auth.users (id, email) values
  ('a1000000-0000-4000-8000-0000000000a1', 'alice@tenancy.test'),
  ('a2000000-0000-4000-8000-0000000000a2', 'oscar@tenancy.test'),
  ('b1000000-0000-4000-8000-0000000000b1', 'bella@tenancy.test');
insert into public.distributors (id, name, created_by) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'Distributor A', 'a1000000-0000-4000-8000-0000000000a1'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'Distributor B', 'b1000000-0000-4000-8000-0000000000b1');
insert into public.distributor_members (distributor_id, user_id, role) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'a1000000-0000-4000-8000-0000000000a1', 'OWNER'),
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'a2000000-0000-4000-8000-0000000000a2', 'OPERATOR'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'b1000000-0000-4000-8000-0000000000b1', 'OWNER');
insert into public.encryption_keys (distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'data', 1, 'wrapped-a', 'iv-a', 1),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'data', 1, 'wrapped-b', 'iv-b', 1);
insert into public.whatsapp_accounts (id, distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version) values
  ('aaaaaaaa-0001-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000a', '1000000001', '+1 555 0001', 'token-ct-a', 'iv', 1),
  ('bbbbbbbb-0001-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-00000000000b', '2000000002', '+1 555 0002', 'token-ct-b', 'iv', 1);
insert into public.customers (id, distributor_id, wa_id_hash, notes) values
  ('aaaaaaaa-0002-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000a', 'hash-a', 'note a'),
  ('bbbbbbbb-0002-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-00000000000b', 'hash-b', 'note b');
insert into public.conversations (id, distributor_id, customer_id, preview) values
  ('aaaaaaaa-0003-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0002-4000-8000-00000000000a', 'preview a'),
  ('bbbbbbbb-0003-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0002-4000-8000-00000000000b', 'preview b');
insert into public.messages (id, distributor_id, conversation_id, external_id, direction, message_type, status, preview) values
  ('aaaaaaaa-0004-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0003-4000-8000-00000000000a', 'wamid.a', 'inbound', 'text', 'received', 'msg a'),
  ('bbbbbbbb-0004-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0003-4000-8000-00000000000b', 'wamid.b', 'inbound', 'text', 'received', 'msg b');
insert into public.orders (id, distributor_id, customer_id, items) values
  ('aaaaaaaa-0005-4000-8000-00000000000a', 'aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0002-4000-8000-00000000000a', '[{"sku":"A","quantity":1}]'),
  ('bbbbbbbb-0005-4000-8000-00000000000b', 'bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0002-4000-8000-00000000000b', '[{"sku":"B","quantity":1}]');
insert into public.pii_detection_results (distributor_id, message_id, pii_types, counts) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'aaaaaaaa-0004-4000-8000-00000000000a', '{phone}', '{"phone":1}'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0004-4000-8000-00000000000b', '{email}', '{"email":1}');
insert into public.data_access_audit (distributor_id, user_id, action) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'a1000000-0000-4000-8000-0000000000a1', 'member.add'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'b1000000-0000-4000-8000-0000000000b1', 'member.add');
insert into public.event_outbox (distributor_id, event_type, payload) values
  ('aaaaaaaa-0000-4000-8000-00000000000a', 'message.received', '{}'),
  ('bbbbbbbb-0000-4000-8000-00000000000b', 'message.received', '{}');

select ok(bool_and(relrowsecurity), 'RLS is enabled on every tenant table')
  from pg_class where oid in ('public.distributors'::regclass, 'public.distributor_members'::regclass,
    'public.encryption_keys'::regclass, 'public.whatsapp_accounts'::regclass, 'public.customers'::regclass,
    'public.conversations'::regclass, 'public.messages'::regclass, 'public.orders'::regclass,
    'public.pii_detection_results'::regclass, 'public.data_access_audit'::regclass, 'public.event_outbox'::regclass);

-- ---------------------------------------------------------------- as Alice (OWNER of A), through the functions
set local role edge_user;
set local request.jwt.claims to '{"sub":"a1000000-0000-4000-8000-0000000000a1","role":"authenticated","aal":"aal2"}';

-- Reads of B: nothing, even when asking for B's ids. Each beside a control showing A's row is visible.
select is((select count(*)::int from public.distributors where id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'A''s owner sees no B distributor');
select results_eq($$select name from public.distributors$$, $$values ('Distributor A'::text)$$, 'A''s owner sees exactly distributor A');
select is((select count(*)::int from public.distributor_members where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B memberships');
select is((select count(*)::int from public.distributor_members where user_id = 'b1000000-0000-4000-8000-0000000000b1'), 0, 'B''s owner is invisible');
select is((select count(*)::int from public.distributor_members), 2, 'A''s two memberships are visible');
select is((select count(*)::int from public.customers where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B customers');
select is((select count(*)::int from public.customers where wa_id_hash = 'hash-b'), 0, 'B''s customer not findable by hash');
select is((select count(*)::int from public.customers), 1, 'A''s customer is visible');
select is((select count(*)::int from public.conversations where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B conversations');
select is((select count(*)::int from public.conversations), 1, 'A''s conversation is visible');
select is((select count(*)::int from public.messages where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B messages');
select is((select count(*)::int from public.messages where external_id = 'wamid.b'), 0, 'B''s message not findable by external id');
select is((select count(*)::int from public.messages), 1, 'A''s message is visible');
select is((select count(*)::int from public.orders where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B orders');
select is((select count(*)::int from public.orders), 1, 'A''s order is visible');
select is((select count(*)::int from public.pii_detection_results where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B PII results');
select is((select count(*)::int from public.pii_detection_results), 1, 'A''s PII result is visible');
select is((select count(*)::int from public.data_access_audit where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B audit rows');
select is((select count(*)::int from public.data_access_audit), 1, 'A''s audit row is visible to its OWNER');
select is((select count(*)::int from public.whatsapp_accounts where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'no B WhatsApp accounts');
select is((select count(*)::int from public.whatsapp_accounts where phone_number_id = '2000000002'), 0, 'B''s number not findable');
select results_eq($$select phone_number_id from public.whatsapp_accounts$$, $$values ('1000000001'::text)$$, 'A''s number is visible (public columns)');
select is((select count(*)::int from public.event_outbox), 0, 'the outbox is not readable by users');

-- Secrets are never selectable, even one's own tenant's.
select throws_ok($$select wrapped_key from public.encryption_keys$$, '42501', null, 'encryption_keys: select denied');
select throws_ok($$select count(*) from public.encryption_keys where distributor_id = 'aaaaaaaa-0000-4000-8000-00000000000a'$$,
  '42501', null, 'encryption_keys: select denied for own tenant too');
select throws_ok($$select access_token_encrypted from public.whatsapp_accounts$$, '42501', null, 'whatsapp token column: select denied');
select throws_ok($$select * from public.whatsapp_accounts$$, '42501', null, 'whatsapp_accounts: select * denied');

-- Writes into B's tables are refused.
select throws_ok($$insert into public.customers (distributor_id, notes) values ('bbbbbbbb-0000-4000-8000-00000000000b', 'planted')$$,
  '42501', null, 'cannot insert a B customer');
select throws_ok($$insert into public.conversations (distributor_id, customer_id) values ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0002-4000-8000-00000000000b')$$,
  '42501', null, 'cannot insert a B conversation');
select throws_ok($$insert into public.messages (distributor_id, conversation_id, direction, message_type, status)
  values ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0003-4000-8000-00000000000b', 'outbound', 'text', 'sent')$$,
  '42501', null, 'cannot insert a B message');
select throws_ok($$insert into public.orders (distributor_id, customer_id, items) values ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0002-4000-8000-00000000000b', '[]')$$,
  '42501', null, 'cannot insert a B order');
select throws_ok($$insert into public.pii_detection_results (distributor_id, message_id, pii_types, counts)
  values ('bbbbbbbb-0000-4000-8000-00000000000b', 'bbbbbbbb-0004-4000-8000-00000000000b', '{}', '{}')$$,
  '42501', null, 'cannot insert a B PII result');
select throws_ok($$insert into public.data_access_audit (distributor_id, action) values ('bbbbbbbb-0000-4000-8000-00000000000b', 'forged')$$,
  '42501', null, 'cannot insert a B audit row');
select throws_ok($$insert into public.whatsapp_accounts (distributor_id, phone_number_id, display_phone_number, access_token_encrypted, access_token_iv, key_version)
  values ('bbbbbbbb-0000-4000-8000-00000000000b', '3000000003', '+1', 'x', 'y', 1)$$,
  '42501', null, 'cannot connect a number to B');
select throws_ok($$insert into public.event_outbox (distributor_id, event_type, payload) values ('bbbbbbbb-0000-4000-8000-00000000000b', 'x', '{}')$$,
  '42501', null, 'cannot insert a B outbox event');
select throws_ok($$select private.write_data_access_audit('bbbbbbbb-0000-4000-8000-00000000000b', 'a1000000-0000-4000-8000-0000000000a1',
  'forged', null, null, null, null, '{}')$$, '42501', null, 'the audit writer refuses rows about another tenant');
select throws_ok($$select private.write_data_access_audit('aaaaaaaa-0000-4000-8000-00000000000a', 'a2000000-0000-4000-8000-0000000000a2',
  'forged', null, null, null, null, '{}')$$, '42501', null, 'the audit writer refuses rows in another user''s name');

-- Updates and deletes of B's rows touch nothing.
select is_empty($$update public.customers set notes = 'hijacked' where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' returning id$$, 'B customers: update touches nothing');
select is_empty($$update public.conversations set status = 'closed' where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' returning id$$, 'B conversations: update touches nothing');
select is_empty($$update public.messages set status = 'read' where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' returning id$$, 'B messages: update touches nothing');
select throws_ok($$delete from public.messages where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'$$,
  '42501', null, 'B messages: no hard delete (the API soft-deletes)');
select is_empty($$update public.orders set status = 'confirmed' where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' returning id$$, 'B orders: update touches nothing');
select throws_ok($$update public.customers set distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' where id = 'aaaaaaaa-0002-4000-8000-00000000000a'$$,
  '42501', null, 'cannot move an A customer into B');
select throws_ok($$update public.messages set distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' where id = 'aaaaaaaa-0004-4000-8000-00000000000a'$$,
  '42501', null, 'cannot move an A message into B');

-- Membership and keys are written only by the backend, even for one's own tenant.
select throws_ok($$insert into public.distributor_members (distributor_id, user_id, role)
  values ('bbbbbbbb-0000-4000-8000-00000000000b', 'a1000000-0000-4000-8000-0000000000a1', 'OWNER')$$, '42501', null, 'cannot join B');
select throws_ok($$insert into public.distributor_members (distributor_id, user_id, role)
  values ('aaaaaaaa-0000-4000-8000-00000000000a', 'b1000000-0000-4000-8000-0000000000b1', 'OPERATOR')$$, '42501', null, 'cannot add members directly, even to A');
select throws_ok($$update public.distributor_members set role = 'OWNER' where user_id = 'a2000000-0000-4000-8000-0000000000a2'$$,
  '42501', null, 'cannot change roles directly');
select throws_ok($$delete from public.distributor_members where distributor_id = 'aaaaaaaa-0000-4000-8000-00000000000a'$$,
  '42501', null, 'cannot delete memberships directly');
select throws_ok($$insert into public.encryption_keys (distributor_id, purpose, version, wrapped_key, wrap_iv, master_key_version)
  values ('aaaaaaaa-0000-4000-8000-00000000000a', 'data', 2, 'x', 'y', 1)$$, '42501', null, 'cannot insert keys, even for A');
select throws_ok($$insert into public.distributors (name) values ('Self-made')$$, '42501', null, 'cannot create distributors directly');
select throws_ok($$update public.distributors set name = 'Renamed' where id = 'bbbbbbbb-0000-4000-8000-00000000000b'$$,
  '42501', null, 'cannot rename distributors directly');
select throws_ok($$select public.custom_access_token_hook('{"user_id":"b1000000-0000-4000-8000-0000000000b1","claims":{}}'::jsonb)$$,
  '42501', null, 'users cannot call the access token hook (it would reveal others'' memberships)');

-- ---------------------------------------------------------------- as Oscar (OPERATOR of A): the matrix in RLS
set local request.jwt.claims to '{"sub":"a2000000-0000-4000-8000-0000000000a2","role":"authenticated"}';
select is((select count(*)::int from public.customers), 1, 'an OPERATOR reads customers');
select is((select count(*)::int from public.data_access_audit), 0, 'an OPERATOR cannot read the audit (customers.export)');
select throws_ok($$insert into public.customers (distributor_id, notes) values ('aaaaaaaa-0000-4000-8000-00000000000a', 'op')$$,
  '42501', null, 'an OPERATOR cannot write customers');
select throws_ok($$delete from public.messages where distributor_id = 'aaaaaaaa-0000-4000-8000-00000000000a'$$,
  '42501', null, 'an OPERATOR cannot hard-delete messages (nobody can)');
select is_empty($$update public.orders set status = 'confirmed' returning id$$, 'an OPERATOR cannot confirm orders');
select is((select count(*)::int from public.messages where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b'), 0, 'an OPERATOR of A sees no B messages');

-- ---------------------------------------------------------------- authenticated without a membership / without claims
set local request.jwt.claims to '{"sub":"c0000000-0000-4000-8000-00000000000c","role":"authenticated"}';
select is((select count(*)::int from public.distributors) + (select count(*)::int from public.distributor_members)
  + (select count(*)::int from public.customers) + (select count(*)::int from public.messages), 0, 'a user without memberships sees nothing');
set local request.jwt.claims to '';
select is((select count(*)::int from public.distributors) + (select count(*)::int from public.messages), 0, 'no claims: nothing');

-- ---------------------------------------------------------------- as anon
reset role;
set local role anon;
set local request.jwt.claims to '{"sub":"a1000000-0000-4000-8000-0000000000a1","role":"anon"}';
select throws_ok($$select count(*) from public.distributors$$, '42501', null, 'anon: distributors denied');
select throws_ok($$select count(*) from public.distributor_members$$, '42501', null, 'anon: distributor_members denied');
select throws_ok($$select count(*) from public.customers$$, '42501', null, 'anon: customers denied');
select throws_ok($$select count(*) from public.conversations$$, '42501', null, 'anon: conversations denied');
select throws_ok($$select count(*) from public.messages$$, '42501', null, 'anon: messages denied');
select throws_ok($$select count(*) from public.orders$$, '42501', null, 'anon: orders denied');
select throws_ok($$select count(*) from public.pii_detection_results$$, '42501', null, 'anon: pii_detection_results denied');
select throws_ok($$select count(*) from public.data_access_audit$$, '42501', null, 'anon: data_access_audit denied');
select throws_ok($$select id from public.whatsapp_accounts$$, '42501', null, 'anon: whatsapp_accounts denied');
select throws_ok($$select count(*) from public.encryption_keys$$, '42501', null, 'anon: encryption_keys denied');
select throws_ok($$insert into public.customers (distributor_id) values ('aaaaaaaa-0000-4000-8000-00000000000a')$$, '42501', null, 'anon: cannot insert');

-- ---------------------------------------------------------------- assert as the superuser: nothing landed
reset role;
select is((select count(*)::int from public.distributor_members), 3, 'memberships unchanged');
select results_eq($$select role from public.distributor_members where user_id = 'a2000000-0000-4000-8000-0000000000a2'$$,
  $$values ('OPERATOR'::text)$$, 'Oscar is still an OPERATOR');
select is((select count(*)::int from public.customers where notes in ('planted', 'hijacked', 'op')
  or distributor_id = 'bbbbbbbb-0000-4000-8000-00000000000b' and id <> 'bbbbbbbb-0002-4000-8000-00000000000b'), 0, 'no customer write landed');
select results_eq($$select status from public.messages order by external_id$$, $$values ('received'::text), ('received')$$,
  'messages unchanged');
select is((select count(*)::int from public.encryption_keys), 2, 'keys unchanged');
select is((select count(*)::int from public.data_access_audit), 2, 'no forged audit rows');

select * from finish();
rollback;
