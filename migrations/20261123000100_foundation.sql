-- Foundation: a private schema (never exposed through the Data API) for helpers and
-- internal tables, and the Postgres-backed rate limiter shared by every edge function.
create schema if not exists private;
revoke all on schema private from public;
grant usage on schema private to authenticated, service_role;

-- Fixed-window counters. One row per bucket; the upsert is atomic, so the limit holds
-- across any number of function instances. Unlogged: counters need no crash safety (a crash
-- empties them, which only resets the current windows) and skip the write-ahead log.
create unlogged table private.rate_limits (
  key text primary key,
  window_start timestamptz not null,
  hits integer not null
);
alter table private.rate_limits enable row level security;

-- Counts one hit for the bucket and raises SQLSTATE P0429 (detail = seconds until the window
-- resets) when it is over the limit. It runs as the first statement of the request's own
-- transaction, so an over-limit request is rolled back with everything it tried to do (its own
-- hit included, which keeps the counter at the limit). Security definer: callers never get
-- privileges on private.rate_limits.
create function private.rate_limit_take(p_key text, p_limit integer, p_window_seconds integer)
returns jsonb
language plpgsql
security definer
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
  if v_hits > p_limit then
    raise exception using errcode = 'P0429', message = 'rate limit exceeded', detail = v_reset::text;
  end if;
  return jsonb_build_object('hits', v_hits, 'reset', v_reset);
end
$$;
revoke execute on function private.rate_limit_take(text, integer, integer) from public;
-- Not granted to users: the request pipeline calls it in the statement that switches the role,
-- and execute permission is checked when that statement starts, as the connecting role.
