-- Foundation: a private schema (never exposed through the Data API) for helpers and
-- internal tables, and the Postgres-backed rate limiter shared by every edge function.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- Fixed-window counters. One row per bucket; the upsert is atomic, so the limit holds
-- across any number of function instances.
create table private.rate_limits (
  key text primary key,
  window_start timestamptz not null,
  hits integer not null
);
alter table private.rate_limits enable row level security;

-- Counts one hit (in its own autocommit statement, so the row lock is held only briefly)
-- and remembers on the session whether the bucket is over its limit; assert_rate_limit,
-- run inside the request's transaction, turns that into SQLSTATE P0429.
create function private.rate_limit_hit(p_key text, p_limit integer, p_window_seconds integer)
returns jsonb
language plpgsql
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_window timestamptz := to_timestamp(floor(extract(epoch from v_now) / p_window_seconds) * p_window_seconds);
  v_hits integer;
  v_reset integer;
begin
  insert into private.rate_limits as r (key, window_start, hits)
  values (p_key, v_window, 1)
  on conflict (key) do update
    set hits = case when r.window_start = excluded.window_start then r.hits + 1 else 1 end,
        window_start = excluded.window_start
  returning r.hits into v_hits;
  v_reset := greatest(1, ceil(extract(epoch from (v_window + make_interval(secs => p_window_seconds) - v_now)))::integer);
  perform set_config('app.rate_limit_exceeded',
    case when v_hits > p_limit then p_key || ' ' || v_reset else '' end, false);
  return jsonb_build_object('hits', v_hits, 'reset', v_reset);
end
$$;

create function private.assert_rate_limit(p_key text)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v text := coalesce(current_setting('app.rate_limit_exceeded', true), '');
begin
  if p_key is not null and v <> '' and split_part(v, ' ', 1) = p_key then
    raise exception using errcode = 'P0429', message = 'rate limit exceeded', detail = split_part(v, ' ', 2);
  end if;
end
$$;
grant execute on function private.assert_rate_limit(text) to authenticated, service_role;
revoke execute on function private.rate_limit_hit(text, integer, integer) from public;
