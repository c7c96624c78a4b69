-- Batched request counts of the security monitor (private.security_add_requests, one statement
-- per batch of addresses; shared/security/request-counts.ts): only the functions' login role may
-- add, the window's total is exact, the incident and the block come once, when a batch crosses the
-- limit, and an expired window starts again. Run with tests/db/run-pgtap.ts, rolled back.
begin;
select plan(17);

select ok(not has_function_privilege(r, 'private.security_add_requests(jsonb, integer, integer, integer)', 'execute'),
  r || ' cannot add request counts') from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;
select ok(not has_function_privilege(r, 'private.security_add(text, inet, uuid, text, text, integer, integer, integer, integer, jsonb)', 'execute'),
  r || ' cannot call security_add') from unnest(array['anon', 'authenticated', 'service_role', 'edge_user']) r;

-- limit 10, window 300 s, block 900 s
select results_eq(
  $$select key, hits, wait from private.security_add_requests(
      '[{"key":"ip:192.0.2.10","ip":"192.0.2.10","hits":4,"details":{"fn":"pgtap"}},
        {"key":"ip:192.0.2.11","ip":"192.0.2.11","hits":10,"details":{"fn":"pgtap"}}]', 10, 300, 900)$$,
  $$values ('ip:192.0.2.10', 4, 0), ('ip:192.0.2.11', 10, 0)$$,
  'a batch adds each address''s hits, in the order given; at the limit nothing happens');
select is((select count(*)::int from public.security_incidents where ip in ('192.0.2.10', '192.0.2.11')), 0, 'no incident at the limit');
select results_eq(
  $$select hits, wait from private.security_add_requests('[{"key":"ip:192.0.2.10","ip":"192.0.2.10","hits":9,"details":{"fn":"pgtap"}}]', 10, 300, 900)$$,
  $$values (13, 900)$$, 'a batch that crosses the limit blocks the address');
select results_eq(
  $$select type, severity, details from public.security_incidents where ip = '192.0.2.10'$$,
  $$values ('rate_anomaly'::text, 'high'::text, '{"fn":"pgtap","count":13,"limit":10,"window_seconds":300,"blocked_seconds":900}'::jsonb)$$,
  'one rate_anomaly incident with the total, the limit and the block');
select is((select count(*)::int from private.security_alerts a join public.security_incidents i on i.id = a.incident_id where i.ip = '192.0.2.10'),
  1, 'the high incident is queued for the alert webhook');
select ok((select wait between 899 and 900 from private.security_add_requests('[{"key":"ip:192.0.2.10","ip":"192.0.2.10","hits":1,"details":{}}]', 10, 300, 900)),
  'later hits are counted and told to wait');
select is((select count(*)::int from public.security_incidents where ip = '192.0.2.10'), 1, 'one incident per window');
select results_eq(
  $$select hits, wait from private.security_add_requests('[{"key":"ip:192.0.2.11","ip":"192.0.2.11","hits":1,"details":{"fn":"pgtap"}}]', 10, 300, 0)$$,
  $$values (11, 0)$$, 'without a block length, crossing opens the incident only');
update private.security_counters set window_start = now() - interval '301 seconds' where key = 'ip:192.0.2.11';
select results_eq(
  $$select hits, window_left from private.security_add_requests('[{"key":"ip:192.0.2.11","ip":"192.0.2.11","hits":2,"details":{}}]', 10, 300, 0)$$,
  $$values (2, 300)$$, 'an expired window starts again with the batch''s hits');

select * from finish();
rollback;
