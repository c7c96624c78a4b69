-- The one-statement request functions (private.begin_user_request, private.read_user_secret,
-- private.list_user_secrets, private.has_user_secret):
-- only the server's login role may call them, and inside them RLS decides as the user named
-- by the claims. Run with tests/db/run-pgtap.ts (pg_prove), in one rolled-back transaction.
begin;
select plan(49);

insert into auth.users (id, email) values
  ('a1000000-0000-4000-8000-00000000a11c', 'alice-one@pgtap.test'),
  ('b1000000-0000-4000-8000-000000000b0b', 'bob-one@pgtap.test');
insert into public.user_secrets (user_id, service_name, encrypted_value, initialization_vector, key_version, aad_bound) values
  ('a1000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'alice-ct', 'alice-iv', 1, true),
  ('b1000000-0000-4000-8000-000000000b0b', 'openai_api_key_encrypted', 'bob-ct', 'bob-iv', 1, true),
  ('b1000000-0000-4000-8000-000000000b0b', 'gemini_api_key_encrypted', 'bob-old-ct', 'bob-old-iv', 1, true);
update public.user_secrets set is_active = false where encrypted_value = 'bob-old-ct';

-- ---------------------------------------------------------------- nobody but the login role
select ok(not has_function_privilege(r, 'private.begin_user_request(jsonb)', 'execute'), r || ' cannot execute begin_user_request')
  from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;
select ok(not has_function_privilege(r, 'private.read_user_secret(jsonb, text, inet, text)', 'execute'), r || ' cannot execute read_user_secret')
  from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;
select ok(not has_function_privilege(r, 'private.list_user_secrets(jsonb, inet, text)', 'execute'), r || ' cannot execute list_user_secrets')
  from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;
select ok(not has_function_privilege(r, 'private.has_user_secret(jsonb, text, inet, text)', 'execute'), r || ' cannot execute has_user_secret')
  from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;
select ok(not has_function_privilege(r, 'private.rate_limit_hit(text, integer, integer)', 'execute'), r || ' cannot execute rate_limit_hit')
  from unnest(array['anon', 'authenticated', 'service_role']) r;
select ok(not has_function_privilege(r, 'private.insert_secret_audit(uuid, text, text, inet, text, boolean, text)', 'execute'),
  r || ' cannot execute insert_secret_audit') from unnest(array['anon', 'authenticated', 'service_role']) r;

set local role authenticated;
set local request.jwt.claims to '{"sub":"b1000000-0000-4000-8000-000000000b0b","role":"authenticated"}';
select throws_ok(
  $$select * from private.read_user_secret('{"claims":{"sub":"a1000000-0000-4000-8000-00000000a11c"}}', 'openai_api_key_encrypted', null, null)$$,
  '42501', null, 'a user cannot call read_user_secret with forged claims');
reset role;
set local role edge_user;
select throws_ok(
  $$select * from private.read_user_secret('{"claims":{"sub":"a1000000-0000-4000-8000-00000000a11c"}}', 'openai_api_key_encrypted', null, null)$$,
  '42501', null, 'nor can the functions'' role (only the login role that verified the token)');
reset role;

-- ---------------------------------------------------------------- as the login role
select results_eq(
  $$select encrypted_value, initialization_vector from private.read_user_secret(
      '{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b","role":"authenticated"}}', 'openai_api_key_encrypted', '203.0.113.9', 'bob-agent')$$,
  $$values ('bob-ct'::text, 'bob-iv'::text)$$,
  'read_user_secret returns the claimed user''s own secret');
select is(current_user::text, 'postgres', 'the statement leaves the session acting as the login role again');

-- begin_user_request alone: the rest of the transaction acts as edge_user, and auth.uid() /
-- auth.jwt() read the claims it set (as under PostgREST).
select private.begin_user_request('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b","role":"authenticated","email":"bob-one@pgtap.test"}}');
select is(current_user::text, 'edge_user', 'begin_user_request switches to the functions'' role, edge_user');
select is(auth.uid(), 'b1000000-0000-4000-8000-000000000b0b'::uuid, 'auth.uid() works as edge_user');
select is(auth.jwt() ->> 'email', 'bob-one@pgtap.test', 'auth.jwt() works as edge_user');
reset role;
set local request.jwt.claims to '';
select is((select count(*)::int from public.secret_audit_logs where user_id = 'b1000000-0000-4000-8000-000000000b0b'
             and operation = 'read' and success and user_agent = 'bob-agent' and host(ip_address) = '203.0.113.9'), 1,
  'a successful read writes one audit row with ip and user agent');
select isnt((select last_used_at from public.user_secrets where encrypted_value = 'bob-ct'), null, 'a read sets last_used_at');
select is_empty(
  $$select * from private.read_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'gemini_api_key_encrypted', null, null)$$,
  'a soft-deleted secret is not returned');
select is_empty(
  $$select * from private.read_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'mistral_api_key_encrypted', null, null)$$,
  'an absent secret returns no row');
select is((select count(*)::int from public.secret_audit_logs where user_id = 'b1000000-0000-4000-8000-000000000b0b'), 1,
  'reads that found nothing wrote no success row (the server audits the failure)');

-- The user work runs as edge_user (the functions' role, a member of authenticated) under RLS,
-- not as the login role: without the grant it is refused, and with a policy that admits nothing
-- it finds nothing.
revoke update on public.user_secrets from edge_user;
select throws_ok(
  $$select * from private.read_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'openai_api_key_encrypted', null, null)$$,
  '42501', null, 'the read runs as edge_user (refused without its UPDATE grant)');
grant update on public.user_secrets to edge_user;
alter policy "Users can update their own secrets" on public.user_secrets using (false);
select is_empty(
  $$select * from private.read_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'openai_api_key_encrypted', null, null)$$,
  'the read is subject to the row-level policy');
alter policy "Users can update their own secrets" on public.user_secrets using ((select auth.uid()) = user_id);

-- With another user's subject, only that user's secret is reachable.
select results_eq(
  $$select encrypted_value from private.read_user_secret('{"claims":{"sub":"a1000000-0000-4000-8000-00000000a11c"}}', 'openai_api_key_encrypted', null, null)$$,
  $$values ('alice-ct'::text)$$, 'Alice''s claims reach only Alice''s secret');
select is((select count(*)::int from public.secret_audit_logs where user_id = 'a1000000-0000-4000-8000-00000000a11c'), 1,
  'Alice''s read is audited under Alice');
select throws_ok(
  $$select * from private.read_user_secret('{"claims":{"role":"authenticated"}}', 'openai_api_key_encrypted', null, null)$$,
  '22023', null, 'claims without a subject are refused');

-- list and has: the claimed user's own active secrets, read under RLS, each read audited.
select is(
  (select jsonb_path_query_array(secrets, '$[*].service_name') from private.list_user_secrets(
     '{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', '203.0.113.9', 'bob-list')),
  '["openai_api_key_encrypted"]'::jsonb, 'list_user_secrets: Bob''s active secrets only (the soft-deleted one left out)');
select is(
  (select secrets -> 0 ->> 'last_used_at' from private.list_user_secrets('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', null, null)),
  to_char((select last_used_at from public.user_secrets where encrypted_value = 'bob-ct') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'timestamps as ISO 8601 UTC with milliseconds');
select ok((select secrets::text not like '%bob-ct%' and secrets::text not like '%bob-iv%'
             from private.list_user_secrets('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', null, null)),
  'list_user_secrets never returns values');
select is(current_user::text, 'postgres', 'list_user_secrets leaves the session acting as the login role again');
select is((select count(*)::int from public.secret_audit_logs where user_id = 'b1000000-0000-4000-8000-000000000b0b'
             and operation = 'read' and service_name is null and user_agent = 'bob-list'), 1, 'a list is audited with no service name');
select is((select has_secret from private.has_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'openai_api_key_encrypted', null, 'bob-has')),
  true, 'has_user_secret: an active secret');
select is((select has_secret from private.has_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'gemini_api_key_encrypted', null, null)),
  false, 'has_user_secret: a soft-deleted one counts as absent');
select is((select count(*)::int from public.secret_audit_logs where user_id = 'b1000000-0000-4000-8000-000000000b0b'
             and operation = 'read' and service_name = 'openai_api_key_encrypted' and user_agent = 'bob-has'), 1, 'a has is audited with its service');
alter policy "Users can view their own secrets metadata" on public.user_secrets using (false);
select is((select secrets from private.list_user_secrets('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', null, null)),
  '[]'::jsonb, 'list_user_secrets is subject to the row-level policy');
select is((select has_secret from private.has_user_secret('{"claims":{"sub":"b1000000-0000-4000-8000-000000000b0b"}}', 'openai_api_key_encrypted', null, null)),
  false, 'has_user_secret is subject to the row-level policy');

select * from finish();
rollback;
