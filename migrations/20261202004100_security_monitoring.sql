-- Security monitoring (issue 14): per-client-IP counters in fixed 5-minute windows, temporary
-- blocks, and the queue of high-severity incidents to POST to SECURITY_ALERT_WEBHOOK_URL.
-- Incidents themselves are public.security_incidents (20261202003000_security_incidents.sql).
-- Everything here lives in schema private (not exposed by the Data API) and is reached only
-- through private.security_* functions called by the functions' login role.
create table private.security_counters (
  key text primary key,           -- 'ip:<addr>', 'auth:ip:<addr>', 'auth:user:<id>', 'probe:<addr>', 'ua:<addr>'
  window_start timestamptz not null,
  hits integer not null,
  blocked_until timestamptz
);
create index security_counters_window_idx on private.security_counters (window_start);

create table private.security_alerts (
  incident_id uuid primary key references public.security_incidents(id) on delete cascade,
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  sent_at timestamptz
);
create index security_alerts_due_idx on private.security_alerts (next_attempt_at) where sent_at is null;

-- Count one event for `p_key` in its window; past `p_limit` (once per window) open an incident of
-- `p_type`, and block for `p_block_seconds` when asked. Returns the seconds the caller must still
-- wait (0: go ahead). One statement per request on the hot path.
create function private.security_count(
  p_key text, p_ip inet, p_user uuid, p_type text, p_severity text, p_limit integer, p_window_seconds integer,
  p_block_seconds integer, p_details jsonb)
returns integer
language plpgsql security definer set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_row private.security_counters;
  v_incident uuid;
begin
  insert into private.security_counters as c (key, window_start, hits)
  values (p_key, v_now, 1)
  on conflict (key) do update set
    hits = case when c.window_start <= v_now - pg_catalog.make_interval(secs => p_window_seconds) then 1 else c.hits + 1 end,
    window_start = case when c.window_start <= v_now - pg_catalog.make_interval(secs => p_window_seconds) then v_now else c.window_start end
  returning * into v_row;
  if v_row.blocked_until is not null and v_row.blocked_until > v_now then
    return greatest(1, ceil(extract(epoch from v_row.blocked_until - v_now)))::integer;
  end if;
  if v_row.hits = p_limit + 1 then
    insert into public.security_incidents (type, severity, ip, user_id, details)
    values (p_type, p_severity, p_ip, p_user, p_details || jsonb_build_object('count', v_row.hits, 'limit', p_limit,
            'window_seconds', p_window_seconds, 'blocked_seconds', p_block_seconds))
    returning id into v_incident;
    if p_severity in ('high', 'critical') then
      insert into private.security_alerts (incident_id) values (v_incident);
    end if;
    if p_block_seconds > 0 then
      update private.security_counters set blocked_until = v_now + pg_catalog.make_interval(secs => p_block_seconds) where key = p_key;
      return p_block_seconds;
    end if;
  end if;
  return 0;
end
$$;

-- Is this key blocked right now (no counting)? Seconds left, 0 when not.
create function private.security_blocked(p_key text)
returns integer
language sql stable security definer set search_path = ''
as $$
  select coalesce((select greatest(1, ceil(extract(epoch from blocked_until - pg_catalog.clock_timestamp())))::integer
                   from private.security_counters where key = p_key and blocked_until > pg_catalog.clock_timestamp()), 0)
$$;

revoke all on private.security_counters, private.security_alerts from public;
revoke execute on function private.security_count(text, inet, uuid, text, text, integer, integer, integer, jsonb) from public;
revoke execute on function private.security_blocked(text) from public;
