-- Row-level security of public.user_secrets: acting for a user, the edge functions' role
-- (`edge_user`) reaches only that user's rows, never hard-deletes; anon reaches nothing. (The Data
-- API's `authenticated` has no privilege on the table at all: tests/db/data_api.sql.)
-- Run with tests/db/run-pgtap.ts (pg_prove). Everything happens in one rolled-back transaction.
begin;
select plan(27);

-- Arrange (as the login superuser): two users and their secrets.
insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000a11c', 'alice@pgtap.test'),
  ('b0000000-0000-4000-8000-000000000b0b', 'bob@pgtap.test');
insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound) values
  ('a0000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'alice-ct-1', 'alice-iv-1', 1, true),
  ('a0000000-0000-4000-8000-00000000a11c', 'gemini_api_key_encrypted', 'alice-ct-2', 'alice-iv-2', 1, true),
  ('b0000000-0000-4000-8000-000000000b0b', 'openai_api_key_encrypted', 'bob-ct-1', 'bob-iv-1', 1, true);

select ok((select relrowsecurity from pg_class where oid = 'public.user_secrets'::regclass), 'RLS is enabled on user_secrets');

-- ---------------------------------------------------------------- as Bob, through the functions (edge_user)
set local role edge_user;
set local request.jwt.claims to '{"sub":"b0000000-0000-4000-8000-000000000b0b","role":"authenticated"}';

select is(auth.uid(), 'b0000000-0000-4000-8000-000000000b0b'::uuid, 'claims set: auth.uid() is Bob');
select is((select count(*)::int from public.user_secrets where user_id = 'a0000000-0000-4000-8000-00000000a11c'), 0,
  'Bob sees none of Alice''s rows when asking for them');
select results_eq(
  $$select user_id, service_name from public.user_secrets order by service_name$$,
  $$values ('b0000000-0000-4000-8000-000000000b0b'::uuid, 'openai_api_key_encrypted'::text)$$,
  'Bob sees exactly his own row');
select is_empty($$select 1 from public.user_secrets where encrypted_value like 'alice%'$$,
  'Bob cannot find Alice''s ciphertexts by value');

select throws_ok(
  $$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
    values ('a0000000-0000-4000-8000-00000000a11c', 'mistral_api_key_encrypted', 'planted', 'iv')$$,
  '42501', null, 'Bob cannot insert a row for Alice');
select throws_ok(
  $$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
    values (null, 'mistral_api_key_encrypted', 'orphan', 'iv')$$,
  '42501', null, 'Bob cannot insert an ownerless row');
select throws_ok(
  $$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
    values ('a0000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'x', 'y')
    on conflict (user_id, service_name) do update set encrypted_value = 'overwritten'$$,
  '42501', null, 'Bob cannot upsert over Alice''s row');

select is_empty(
  $$update public.user_secrets set encrypted_value = 'hijacked', is_active = false
    where user_id = 'a0000000-0000-4000-8000-00000000a11c' returning id$$,
  'Bob''s update of Alice''s rows touches nothing');
select is_empty(
  $$update public.user_secrets set encrypted_value = 'hijacked' where true and user_id <> auth.uid() returning id$$,
  'Bob''s blanket update of others'' rows touches nothing');
select throws_ok(
  $$update public.user_secrets set user_id = 'a0000000-0000-4000-8000-00000000a11c'
    where user_id = 'b0000000-0000-4000-8000-000000000b0b'$$,
  '42501', null, 'Bob cannot hand his row over to Alice (with check)');
select throws_ok(
  $$delete from public.user_secrets where user_id = 'a0000000-0000-4000-8000-00000000a11c'$$,
  '42501', null, 'Bob cannot delete Alice''s rows (no hard deletes at all)');
select throws_ok(
  $$delete from public.user_secrets where user_id = auth.uid()$$,
  '42501', null, 'Bob cannot hard-delete even his own rows (the API soft-deletes)');

-- Bob can manage his own row.
select isnt_empty(
  $$update public.user_secrets set metadata = '{"label":"mine"}' where user_id = auth.uid() returning id$$,
  'Bob can update his own row');
select lives_ok(
  $$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
    values ('b0000000-0000-4000-8000-000000000b0b', 'mistral_api_key_encrypted', 'bob-ct-2', 'bob-iv-2')$$,
  'Bob can insert his own row');

-- A caller without claims (auth.uid() is null) sees nothing.
set local request.jwt.claims to '';
select is((select count(*)::int from public.user_secrets), 0, 'authenticated without claims sees no rows');
set local request.jwt.claims to '{"sub":"c0000000-0000-4000-8000-00000000000c","role":"authenticated"}';
select is((select count(*)::int from public.user_secrets), 0, 'a third user sees no rows');

-- ---------------------------------------------------------------- as Alice
set local request.jwt.claims to '{"sub":"a0000000-0000-4000-8000-00000000a11c","role":"authenticated"}';
select results_eq(
  $$select service_name, encrypted_value from public.user_secrets order by service_name$$,
  $$values ('gemini_api_key_encrypted'::text, 'alice-ct-2'::text), ('openai_api_key_encrypted', 'alice-ct-1')$$,
  'Alice sees her two rows, unchanged by Bob');
select isnt_empty(
  $$update public.user_secrets set is_active = false where service_name = 'gemini_api_key_encrypted' returning id$$,
  'Alice can soft-delete her own row');

-- ---------------------------------------------------------------- as anon
reset role;
set local role anon;
set local request.jwt.claims to '{"sub":"a0000000-0000-4000-8000-00000000a11c","role":"anon"}';
select throws_ok($$select count(*) from public.user_secrets$$, '42501', null, 'anon cannot select (even with a user''s sub)');
select throws_ok(
  $$insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector)
    values ('a0000000-0000-4000-8000-00000000a11c', 'x', 'y', 'z')$$,
  '42501', null, 'anon cannot insert');
select throws_ok($$update public.user_secrets set is_active = false$$, '42501', null, 'anon cannot update');
select throws_ok($$delete from public.user_secrets$$, '42501', null, 'anon cannot delete');

-- ---------------------------------------------------------------- assert as the superuser
reset role;
select results_eq(
  $$select service_name, encrypted_value, is_active from public.user_secrets
    where user_id = 'a0000000-0000-4000-8000-00000000a11c' order by service_name$$,
  $$values ('gemini_api_key_encrypted'::text, 'alice-ct-2'::text, false), ('openai_api_key_encrypted', 'alice-ct-1', true)$$,
  'Alice''s rows were never modified by Bob or anon (only her own soft delete landed)');
select is((select count(*)::int from public.user_secrets where encrypted_value in ('planted', 'orphan', 'overwritten', 'hijacked')), 0,
  'none of the refused writes landed');
select is((select count(*)::int from public.user_secrets where user_id = 'b0000000-0000-4000-8000-000000000b0b'), 2,
  'Bob has his two rows');
select is((select metadata from public.user_secrets where user_id = 'b0000000-0000-4000-8000-000000000b0b'
  and service_name = 'openai_api_key_encrypted'), '{"label":"mine"}'::jsonb, 'Bob''s own update landed');

select * from finish();
rollback;
