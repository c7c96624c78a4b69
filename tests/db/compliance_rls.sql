-- The compliance tables, each role against each operation: privacy_requests, retention_policies,
-- retention_runs, security_incidents, support_tickets.
--   * anon and authenticated (the Data API) hold no privilege on any of them (42501 whatever
--     the operation, even SELECT: requests, incidents and tickets are read through the audited,
--     decrypting functions).
--   * edge_user (the functions acting for a user) reads under RLS: OWNER/ADMIN (audit.read) their
--     distributor's requests, policies, incidents and whether the cleanup ran; MANAGER/OPERATOR
--     nothing; a subject their own requests; platform admins (claims a user cannot edit) every
--     incident; a user their own tickets. Writes: only retention policies (OWNER: customers.erase)
--     and one's own tickets; everything else is written by the service.
begin;
select plan(73);

insert into auth.users (id, email) values
  ('a1000000-0000-4000-8000-0000000000a1', 'alice.owner@compliance.test'),
  ('a2000000-0000-4000-8000-0000000000a2', 'adam.admin@compliance.test'),
  ('a3000000-0000-4000-8000-0000000000a3', 'mia.manager@compliance.test'),
  ('a4000000-0000-4000-8000-0000000000a4', 'otto.operator@compliance.test'),
  ('b1000000-0000-4000-8000-0000000000b1', 'bella.owner@compliance.test'),
  ('c1000000-0000-4000-8000-0000000000c1', 'pam.platform@compliance.test'),
  ('d1000000-0000-4000-8000-0000000000d1', 'uma.user@compliance.test');
insert into public.distributors (id, name) values
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'Compliance A'),
  ('bbbbbbbb-0000-4000-8000-00000000c0bb', 'Compliance B');
insert into public.distributor_members (distributor_id, user_id, role) values
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'a1000000-0000-4000-8000-0000000000a1', 'OWNER'),
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'a2000000-0000-4000-8000-0000000000a2', 'ADMIN'),
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'a3000000-0000-4000-8000-0000000000a3', 'MANAGER'),
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'a4000000-0000-4000-8000-0000000000a4', 'OPERATOR'),
  ('bbbbbbbb-0000-4000-8000-00000000c0bb', 'b1000000-0000-4000-8000-0000000000b1', 'OWNER');
insert into public.privacy_requests (distributor_id, customer_id, subject_user_id, type, status) values
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'aaaaaaaa-0001-4000-8000-00000000c0aa', null, 'export', 'completed'),
  ('bbbbbbbb-0000-4000-8000-00000000c0bb', 'bbbbbbbb-0001-4000-8000-00000000c0bb', null, 'erase', 'pending'),
  (null, null, 'd1000000-0000-4000-8000-0000000000d1', 'export', 'completed');
insert into public.retention_policies (distributor_id, messages_days) values ('bbbbbbbb-0000-4000-8000-00000000c0bb', 400);
insert into public.retention_runs (trigger, total, done, finished_at) values ('manual', 3, true, now());
insert into public.security_incidents (distributor_id, type, severity) values
  ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'rate_anomaly', 'medium'),
  ('bbbbbbbb-0000-4000-8000-00000000c0bb', 'auth_failures', 'high'),
  (null, 'probing', 'low');
insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version) values
  ('d1000000-0000-4000-8000-0000000000d1', 'uma-ct', 'iv', 1),
  ('a1000000-0000-4000-8000-0000000000a1', 'alice-ct', 'iv', 1),
  (null, 'anonymous-ct', 'iv', 1);

-- A user's claims for edge_user / authenticated.
create temporary table claims (who text primary key, c text);
insert into claims values
  ('alice', '{"sub":"a1000000-0000-4000-8000-0000000000a1","role":"authenticated"}'),
  ('adam', '{"sub":"a2000000-0000-4000-8000-0000000000a2","role":"authenticated"}'),
  ('mia', '{"sub":"a3000000-0000-4000-8000-0000000000a3","role":"authenticated"}'),
  ('otto', '{"sub":"a4000000-0000-4000-8000-0000000000a4","role":"authenticated"}'),
  ('bella', '{"sub":"b1000000-0000-4000-8000-0000000000b1","role":"authenticated"}'),
  ('pam', '{"sub":"c1000000-0000-4000-8000-0000000000c1","role":"authenticated","app_metadata":{"roles":["admin"]}}'),
  ('pam_forged', '{"sub":"c1000000-0000-4000-8000-0000000000c1","role":"authenticated","user_metadata":{"role":"admin"}}'),
  ('uma', '{"sub":"d1000000-0000-4000-8000-0000000000d1","role":"authenticated"}');
grant select on claims to public;

-- ---------------------------------------------------------------- the Data API: nothing at all
set local role anon;
set local request.jwt.claims to '{"role":"anon"}';
select throws_ok(format('select count(*) from public.%I', t), '42501', null, 'anon cannot read ' || t)
  from unnest(array['privacy_requests', 'retention_policies', 'retention_runs', 'security_incidents', 'support_tickets']) t;
select throws_ok($$insert into public.support_tickets (content_encrypted, content_iv, key_version) values ('x', 'y', 1)$$, '42501', null,
  'anon cannot create a ticket directly (only through the rate-limited function)');
select throws_ok($$insert into public.privacy_requests (subject_user_id, type) values ('d1000000-0000-4000-8000-0000000000d1', 'erase')$$, '42501', null,
  'anon cannot file a privacy request directly');
reset role;

set local role authenticated;
select set_config('request.jwt.claims', (select c from claims where who = 'alice'), true);
select throws_ok(format('select count(*) from public.%I', t), '42501', null, 'the Data API (authenticated) cannot read ' || t)
  from unnest(array['privacy_requests', 'retention_policies', 'retention_runs', 'security_incidents', 'support_tickets']) t;
select throws_ok(format('insert into public.%I default values', t), '42501', null, 'the Data API (authenticated) cannot insert into ' || t)
  from unnest(array['privacy_requests', 'retention_policies', 'retention_runs', 'security_incidents', 'support_tickets']) t;
select throws_ok(format('update public.%I set %I = %I', t, col, col), '42501', null, 'the Data API (authenticated) cannot update ' || t)
  from (values ('privacy_requests', 'status'), ('retention_policies', 'messages_days'), ('retention_runs', 'done'),
               ('security_incidents', 'severity'), ('support_tickets', 'status')) v(t, col);
select throws_ok(format('delete from public.%I', t), '42501', null, 'the Data API (authenticated) cannot delete from ' || t)
  from unnest(array['privacy_requests', 'retention_policies', 'retention_runs', 'security_incidents', 'support_tickets']) t;
reset role;

-- ---------------------------------------------------------------- edge_user: writes the service keeps
set local role edge_user;
select set_config('request.jwt.claims', (select c from claims where who = 'alice'), true);
select throws_ok($$insert into public.privacy_requests (distributor_id, customer_id, type) values ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'aaaaaaaa-0009-4000-8000-00000000c0aa', 'erase')$$,
  '42501', null, 'OWNER (functions) cannot insert a privacy request: the service records them');
select throws_ok($$update public.privacy_requests set status = 'failed'$$, '42501', null, 'OWNER cannot update privacy requests');
select throws_ok($$delete from public.privacy_requests$$, '42501', null, 'OWNER cannot delete privacy requests');
select throws_ok($$insert into public.retention_runs (trigger) values ('manual')$$, '42501', null, 'OWNER cannot insert a retention run');
select throws_ok($$update public.retention_runs set done = false$$, '42501', null, 'OWNER cannot update retention runs');
select throws_ok($$delete from public.retention_runs$$, '42501', null, 'OWNER cannot delete retention runs');
select throws_ok($$insert into public.security_incidents (distributor_id, type, severity) values ('aaaaaaaa-0000-4000-8000-00000000c0aa', 'x', 'low')$$, '42501', null, 'OWNER cannot insert an incident');
select throws_ok($$update public.security_incidents set resolved_at = now()$$, '42501', null, 'OWNER cannot update incidents');
select throws_ok($$delete from public.security_incidents$$, '42501', null, 'OWNER cannot delete incidents');
select throws_ok($$delete from public.retention_policies$$, '42501', null, 'OWNER cannot delete a retention policy (update it instead)');
select throws_ok($$update public.support_tickets set status = 'closed'$$, '42501', null, 'a user cannot update tickets');
select throws_ok($$delete from public.support_tickets$$, '42501', null, 'a user cannot delete tickets');

-- ---------------------------------------------------------------- edge_user as Alice, OWNER of A
select is((select array_agg(distributor_id::text) from public.privacy_requests), array['aaaaaaaa-0000-4000-8000-00000000c0aa'], 'OWNER A reads A''s privacy requests only');
select is((select count(*)::int from public.retention_policies), 0, 'OWNER A sees no policy row yet (B''s is not hers)');
select lives_ok($$insert into public.retention_policies (distributor_id, messages_days) values ('aaaaaaaa-0000-4000-8000-00000000c0aa', 365)$$, 'OWNER A sets A''s policy');
select throws_ok($$insert into public.retention_policies (distributor_id, messages_days) values ('bbbbbbbb-0000-4000-8000-00000000c0bb', 30)$$, '42501', null, 'OWNER A cannot set B''s policy');
select throws_ok($$update public.retention_policies set audit_logs_days = 100$$, '23514', null, 'the floor holds: audit logs never below 365 days');
update public.retention_policies set messages_days = 31 where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000c0bb';
select is((select count(*)::int from public.retention_policies), 1, 'OWNER A sees A''s policy only');
select is((select count(*)::int from public.retention_runs), 1, 'OWNER A (audit.read) sees when the cleanup ran');
select is((select array_agg(type) from public.security_incidents), array['rate_anomaly'], 'OWNER A reads A''s incidents only');
select is((select array_agg(content_encrypted) from public.support_tickets), array['alice-ct'], 'Alice reads her own ticket only');
select lives_ok($$insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version) values ('a1000000-0000-4000-8000-0000000000a1', 'alice-2', 'iv', 1)$$, 'Alice creates her own ticket');
select throws_ok($$insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version) values ('d1000000-0000-4000-8000-0000000000d1', 'forged', 'iv', 1)$$, '42501', null, 'Alice cannot create a ticket as Uma');
select throws_ok($$insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version) values (null, 'forged', 'iv', 1)$$, '42501', null, 'a signed-in user cannot create an anonymous ticket directly');
select throws_ok($$insert into public.support_tickets (user_id, content_encrypted, content_iv, key_version, status) values ('a1000000-0000-4000-8000-0000000000a1', 'x', 'iv', 1, 'closed')$$, '42501', null, 'a new ticket is open');
reset role;
select is((select messages_days from public.retention_policies where distributor_id = 'bbbbbbbb-0000-4000-8000-00000000c0bb'), 400, 'B''s policy is unchanged by OWNER A''s update');

-- ---------------------------------------------------------------- ADMIN, MANAGER, OPERATOR of A
set local role edge_user;
select set_config('request.jwt.claims', (select c from claims where who = 'adam'), true);
select is((select count(*)::int from public.privacy_requests), 1, 'ADMIN A reads A''s privacy requests');
select is((select count(*)::int from public.retention_policies), 1, 'ADMIN A reads A''s policy');
update public.retention_policies set messages_days = 40;
select throws_ok($$insert into public.retention_policies (distributor_id) values ('aaaaaaaa-0000-4000-8000-00000000c0aa')$$, '42501', null, 'ADMIN A cannot set a policy (customers.erase is OWNER''s)');
select is((select count(*)::int from public.retention_runs), 1, 'ADMIN A sees when the cleanup ran');
select is((select count(*)::int from public.security_incidents), 1, 'ADMIN A reads A''s incidents');
select is((select count(*)::int from public.support_tickets), 0, 'ADMIN A reads no one''s tickets');
reset role;
select is((select messages_days from public.retention_policies where distributor_id = 'aaaaaaaa-0000-4000-8000-00000000c0aa'), 365, 'ADMIN A''s update changed nothing');

set local role edge_user;
select set_config('request.jwt.claims', (select c from claims where who = w), true) from unnest(array['mia']) w;
select is((select count(*)::int from public.privacy_requests) + (select count(*)::int from public.retention_policies)
        + (select count(*)::int from public.retention_runs) + (select count(*)::int from public.security_incidents), 0,
  'MANAGER A reads no request, policy, run or incident');
select throws_ok($$insert into public.retention_policies (distributor_id) values ('aaaaaaaa-0000-4000-8000-00000000c0aa')$$, '42501', null, 'MANAGER A cannot set a policy');
select set_config('request.jwt.claims', (select c from claims where who = 'otto'), true);
select is((select count(*)::int from public.privacy_requests) + (select count(*)::int from public.retention_policies)
        + (select count(*)::int from public.retention_runs) + (select count(*)::int from public.security_incidents), 0,
  'OPERATOR A reads no request, policy, run or incident');
update public.retention_policies set messages_days = 50;
reset role;
select is((select messages_days from public.retention_policies where distributor_id = 'aaaaaaaa-0000-4000-8000-00000000c0aa'), 365, 'OPERATOR A''s update changed nothing');

-- ---------------------------------------------------------------- another tenant, platform admin, a plain user
set local role edge_user;
select set_config('request.jwt.claims', (select c from claims where who = 'bella'), true);
select is((select array_agg(status) from public.privacy_requests), array['pending'], 'OWNER B reads B''s request only');
select is((select array_agg(type) from public.security_incidents), array['auth_failures'], 'OWNER B reads B''s incidents only');
select is((select array_agg(messages_days) from public.retention_policies), array[400], 'OWNER B reads B''s policy only');
select set_config('request.jwt.claims', (select c from claims where who = 'pam'), true);
select is((select count(*)::int from public.security_incidents), 3, 'a platform admin (app_metadata) reads every incident');
select is((select count(*)::int from public.privacy_requests) + (select count(*)::int from public.retention_policies)
        + (select count(*)::int from public.retention_runs) + (select count(*)::int from public.support_tickets), 0,
  'a platform admin reads no tenant''s requests, policies, runs or tickets through RLS');
select set_config('request.jwt.claims', (select c from claims where who = 'pam_forged'), true);
select is((select count(*)::int from public.security_incidents), 0, 'user_metadata.role = admin (user-editable) gains nothing');
select set_config('request.jwt.claims', (select c from claims where who = 'uma'), true);
select is((select array_agg(subject_user_id::text) from public.privacy_requests), array['d1000000-0000-4000-8000-0000000000d1'], 'a user reads the requests about themselves');
select is((select array_agg(content_encrypted) from public.support_tickets), array['uma-ct'], 'a user reads their own ticket only (not the anonymous one)');
select is((select count(*)::int from public.retention_runs) + (select count(*)::int from public.security_incidents), 0, 'a user with no distributor sees no runs or incidents');
reset role;

select * from finish();
rollback;
