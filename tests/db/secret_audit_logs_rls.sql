-- public.secret_audit_logs: the functions, acting for a user (edge_user), read only that user's
-- rows and never write directly; the one writer (private.write_secret_audit) refuses rows about
-- another user. The Data API's `authenticated` can neither read nor write the table.
begin;
select plan(31);

insert into auth.users (id, email) values
  ('a0000000-0000-4000-8000-00000000a11c', 'alice@pgtap.test'),
  ('b0000000-0000-4000-8000-000000000b0b', 'bob@pgtap.test');
insert into public.secret_audit_logs (user_id, service_name, operation, ip_address, user_agent, success, error_message) values
  ('a0000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'create', '203.0.113.7', 'alice-agent', true, null),
  ('a0000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'read', '203.0.113.7', 'alice-agent', true, null),
  ('b0000000-0000-4000-8000-000000000b0b', null, 'read', null, 'bob-agent', true, null);

select ok((select relrowsecurity from pg_class where oid = 'public.secret_audit_logs'::regclass), 'RLS is enabled on secret_audit_logs');
select ok(not has_table_privilege('authenticated', 'public.secret_audit_logs', 'INSERT'), 'authenticated holds no INSERT');
select ok(not has_table_privilege('authenticated', 'public.secret_audit_logs', 'UPDATE'), 'authenticated holds no UPDATE');
select ok(not has_table_privilege('authenticated', 'public.secret_audit_logs', 'DELETE'), 'authenticated holds no DELETE');
select ok(not has_table_privilege('authenticated', 'public.secret_audit_logs', 'SELECT'), 'authenticated holds no SELECT (audit rows are read through the functions)');
select ok(not has_table_privilege('edge_user', 'public.secret_audit_logs', 'INSERT'), 'edge_user holds no INSERT');
select ok(not has_table_privilege('edge_user', 'public.secret_audit_logs', 'UPDATE'), 'edge_user holds no UPDATE');
select ok(not has_table_privilege('edge_user', 'public.secret_audit_logs', 'DELETE'), 'edge_user holds no DELETE');

-- ---------------------------------------------------------------- as Bob through the Data API
set local role authenticated;
set local request.jwt.claims to '{"sub":"b0000000-0000-4000-8000-000000000b0b","role":"authenticated"}';
select throws_ok($$select count(*) from public.secret_audit_logs$$, '42501', null, 'the Data API cannot read audit rows, not even one''s own');
select throws_ok(
  $$select private.write_secret_audit('b0000000-0000-4000-8000-000000000b0b', 'openai_api_key_encrypted', 'read', null, 'forged', true, null)$$,
  '42501', null, 'the Data API role cannot call the audit writer');
reset role;

-- ---------------------------------------------------------------- as Bob, through the functions
set local role edge_user;
set local request.jwt.claims to '{"sub":"b0000000-0000-4000-8000-000000000b0b","role":"authenticated"}';

select is((select count(*)::int from public.secret_audit_logs where user_id = 'a0000000-0000-4000-8000-00000000a11c'), 0,
  'Bob sees none of Alice''s audit rows');
select results_eq($$select user_id, user_agent from public.secret_audit_logs$$,
  $$values ('b0000000-0000-4000-8000-000000000b0b'::uuid, 'bob-agent'::text)$$, 'Bob sees exactly his own audit row');

select throws_ok(
  $$insert into public.secret_audit_logs (user_id, operation, success) values ('b0000000-0000-4000-8000-000000000b0b', 'read', true)$$,
  '42501', null, 'Bob cannot insert an audit row directly, even about himself');
select throws_ok(
  $$insert into public.secret_audit_logs (user_id, operation, success) values ('a0000000-0000-4000-8000-00000000a11c', 'delete', true)$$,
  '42501', null, 'Bob cannot insert an audit row about Alice');
select throws_ok($$update public.secret_audit_logs set success = false$$, '42501', null, 'Bob cannot update audit rows');
select throws_ok($$delete from public.secret_audit_logs$$, '42501', null, 'Bob cannot delete audit rows (not even his own)');

select throws_ok(
  $$select private.write_secret_audit('a0000000-0000-4000-8000-00000000a11c', 'openai_api_key_encrypted', 'delete', null, 'forged', true, null)$$,
  '42501', 'audit row for another user', 'write_secret_audit refuses a row about another user');
select throws_ok(
  $$select private.write_secret_audit(null, null, 'read', null, 'forged', true, null)$$,
  '42501', 'audit row for another user', 'write_secret_audit refuses an ownerless row from a user');
select lives_ok(
  $$select private.write_secret_audit('b0000000-0000-4000-8000-000000000b0b', 'openai_api_key_encrypted', 'read', '198.51.100.1', 'bob-agent-2', false, 'Secret not found')$$,
  'write_secret_audit accepts a row about the caller');
select is((select count(*)::int from public.secret_audit_logs), 2, 'Bob now sees his two rows');
select throws_ok(
  $$select private.write_secret_audit('b0000000-0000-4000-8000-000000000b0b', null, 'drop', null, null, true, null)$$,
  '23514', null, 'operation is constrained to the known set');
select throws_ok($$select * from private.rate_limits$$, '42501', null, 'Bob cannot read the rate limiter''s table');
select throws_ok($$select private.rate_limit_take('x', 1, 60)$$, '42501', null, 'Bob cannot call rate_limit_take');

-- ---------------------------------------------------------------- as Alice
set local request.jwt.claims to '{"sub":"a0000000-0000-4000-8000-00000000a11c","role":"authenticated"}';
select results_eq($$select operation from public.secret_audit_logs order by created_at, operation$$,
  $$values ('create'::text), ('read')$$, 'Alice sees her two rows and nothing forged in her name');

-- ---------------------------------------------------------------- as anon
reset role;
set local role anon;
set local request.jwt.claims to '{"sub":"a0000000-0000-4000-8000-00000000a11c","role":"anon"}';
select throws_ok($$select count(*) from public.secret_audit_logs$$, '42501', null, 'anon cannot read audit rows');
select throws_ok(
  $$insert into public.secret_audit_logs (user_id, operation, success) values ('a0000000-0000-4000-8000-00000000a11c', 'read', true)$$,
  '42501', null, 'anon cannot insert audit rows');
select throws_ok(
  $$select private.write_secret_audit('a0000000-0000-4000-8000-00000000a11c', null, 'read', null, null, true, null)$$,
  '42501', null, 'anon cannot call write_secret_audit');

-- ---------------------------------------------------------------- assert as the superuser
reset role;
select is((select count(*)::int from public.secret_audit_logs where user_agent = 'forged'), 0, 'no forged row was written');
select results_eq(
  $$select user_agent, success, error_message, host(ip_address) from public.secret_audit_logs
    where user_id = 'b0000000-0000-4000-8000-000000000b0b' order by created_at, user_agent$$,
  $$values ('bob-agent'::text, true, null::text, null::text), ('bob-agent-2', false, 'Secret not found', '198.51.100.1')$$,
  'Bob''s rows are exactly the seeded one and the one he wrote through the function');

-- Each index is paid by every audited read: the per-user page index serves the user's queries,
-- and its prefix (user_id, created_at desc) is not kept beside it.
select has_index('public', 'secret_audit_logs', 'secret_audit_logs_page_idx', array['user_id', 'created_at', 'id'],
  'the per-user page index exists');
select hasnt_index('public', 'secret_audit_logs', 'secret_audit_logs_user_id_idx', 'no prefix index beside it');

select * from finish();
rollback;
