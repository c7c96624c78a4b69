-- The security monitor counts requests per client address in each instance's memory and adds
-- them here in batches (shared/security/monitor.ts): one statement per batch instead of one per
-- request. private.security_add adds `p_hits` to a key's window and opens the incident (and the
-- block) when the window's total crosses `p_limit`, once per window, like private.security_count
-- (which the failure counts keep using, one event at a time).
create function private.security_add(
  p_key text, p_ip inet, p_user uuid, p_type text, p_severity text, p_hits integer, p_limit integer, p_window_seconds integer,
  p_block_seconds integer, p_details jsonb,
  out hits integer, out window_left integer, out wait integer)
language plpgsql security definer set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_window interval := pg_catalog.make_interval(secs => p_window_seconds);
  v_row private.security_counters;
  v_incident uuid;
begin
  insert into private.security_counters as c (key, window_start, hits)
  values (p_key, v_now, p_hits)
  on conflict (key) do update set
    hits = case when c.window_start <= v_now - v_window then p_hits else c.hits + p_hits end,
    window_start = case when c.window_start <= v_now - v_window then v_now else c.window_start end
  returning * into v_row;
  hits := v_row.hits;
  window_left := greatest(0, ceil(extract(epoch from v_row.window_start + v_window - v_now)))::integer;
  wait := 0;
  if v_row.blocked_until is not null and v_row.blocked_until > v_now then
    wait := greatest(1, ceil(extract(epoch from v_row.blocked_until - v_now)))::integer;
    return;
  end if;
  -- Crossed by this batch: the total was at most the limit before it and is above it now.
  if v_row.hits > p_limit and v_row.hits - p_hits <= p_limit then
    insert into public.security_incidents (type, severity, ip, user_id, details)
    values (p_type, p_severity, p_ip, p_user, p_details || jsonb_build_object('count', v_row.hits, 'limit', p_limit,
            'window_seconds', p_window_seconds, 'blocked_seconds', p_block_seconds))
    returning id into v_incident;
    if p_severity in ('high', 'critical') then
      insert into private.security_alerts (incident_id) values (v_incident);
    end if;
    if p_block_seconds > 0 then
      update private.security_counters set blocked_until = v_now + pg_catalog.make_interval(secs => p_block_seconds) where key = p_key;
      wait := p_block_seconds;
    end if;
  end if;
end
$$;
revoke execute on function private.security_add(text, inet, uuid, text, text, integer, integer, integer, integer, jsonb) from public;

-- One batch of per-address request counts (rate_anomaly, high): a JSON array of
-- {key, ip, hits, details}, added in the order given. The monitor sends its keys sorted, so two
-- instances adding overlapping batches lock the same counter rows in the same order (no deadlock).
create function private.security_add_requests(p_batch jsonb, p_limit integer, p_window_seconds integer, p_block_seconds integer)
returns table (key text, hits integer, window_left integer, wait integer)
language sql security definer set search_path = ''
as $$
  select b.e ->> 'key', a.hits, a.window_left, a.wait
  from pg_catalog.jsonb_array_elements(p_batch) with ordinality as b(e, n)
  cross join lateral private.security_add(b.e ->> 'key', (b.e ->> 'ip')::inet, null, 'rate_anomaly', 'high', (b.e ->> 'hits')::integer,
                                          p_limit, p_window_seconds, p_block_seconds, b.e -> 'details') as a
  order by b.n
$$;
revoke execute on function private.security_add_requests(jsonb, integer, integer, integer) from public;

-- One event at a time (the failure counts): the same rules, so one body holds them.
create or replace function private.security_count(
  p_key text, p_ip inet, p_user uuid, p_type text, p_severity text, p_limit integer, p_window_seconds integer,
  p_block_seconds integer, p_details jsonb)
returns integer
language sql security definer set search_path = ''
as $$
  select wait from private.security_add(p_key, p_ip, p_user, p_type, p_severity, 1, p_limit, p_window_seconds, p_block_seconds, p_details)
$$;
