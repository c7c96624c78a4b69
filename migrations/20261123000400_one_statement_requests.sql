-- One-statement user requests, for hot paths.
--
-- db.withUser runs a request as BEGIN; role + claims + rate-limit hit; the caller's statements;
-- COMMIT on a connection reserved for it. A hot path can instead be one call of a function
-- that starts with private.begin_user_request and returns to the login role (set role none)
-- for the trusted writes that record the user work. The statement's own implicit transaction
-- is the request's transaction, RLS decides the user work exactly as under PostgREST (role
-- authenticated, request.jwt.claims), and one statement needs no reserved connection, so many
-- requests share a pooled connection's pipeline.
--
-- These functions are security invoker and NOT executable by anon, authenticated or
-- service_role: they set request.jwt.claims from their argument, so only the server's login
-- role (which has verified the token) may call them. They carry no SET clause: a function's SET
-- clause would undo the role switch at its exit. Every name in them is schema-qualified.

-- The limiter's body, now an invoker function run as the login role; rate_limit_take (security
-- definer, for statements that may already act as the user) wraps it.
create function private.rate_limit_hit(p_key text, p_limit integer, p_window_seconds integer)
returns jsonb
language plpgsql
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_window timestamptz := pg_catalog.to_timestamp(floor(extract(epoch from v_now) / p_window_seconds) * p_window_seconds);
  v_hits integer;
  v_reset integer;
begin
  insert into private.rate_limits as r (key, window_start, hits)
  values (p_key, v_window, 1)
  on conflict (key) do update
    set hits = case when r.window_start = excluded.window_start then r.hits + 1 else 1 end,
        window_start = excluded.window_start
  returning r.hits into v_hits;
  v_reset := greatest(1, ceil(extract(epoch from (v_window + pg_catalog.make_interval(secs => p_window_seconds) - v_now)))::integer);
  if v_hits > p_limit then
    raise exception using errcode = 'P0429', message = 'rate limit exceeded', detail = v_reset::text;
  end if;
  return pg_catalog.jsonb_build_object('hits', v_hits, 'reset', v_reset);
end
$$;
revoke execute on function private.rate_limit_hit(text, integer, integer) from public;

create or replace function private.rate_limit_take(p_key text, p_limit integer, p_window_seconds integer)
returns jsonb
language plpgsql
security definer
set search_path = ''
as $$
begin
  return private.rate_limit_hit(p_key, p_limit, p_window_seconds);
end
$$;

-- The secret_audit_logs insert, run as the login role; write_secret_audit (security definer,
-- checks that a user writes only about itself) wraps it.
create function private.insert_secret_audit(
  p_user_id uuid, p_service_name text, p_operation text, p_ip inet, p_user_agent text,
  p_success boolean, p_error text)
returns void
language plpgsql -- not sql: PL/pgSQL keeps the insert's plan for the session
as $$
begin
  insert into public.secret_audit_logs (user_id, service_name, operation, ip_address, user_agent, success, error_message)
  values (p_user_id, p_service_name, p_operation, p_ip, pg_catalog.left(p_user_agent, 512), p_success, pg_catalog.left(p_error, 200));
end
$$;
revoke execute on function private.insert_secret_audit(uuid, text, text, inet, text, boolean, text) from public;

create or replace function private.write_secret_audit(
  p_user_id uuid, p_service_name text, p_operation text, p_ip inet, p_user_agent text,
  p_success boolean, p_error text)
returns void
language plpgsql
security definer
set search_path = ''
as $$
begin
  if auth.uid() is not null and auth.uid() is distinct from p_user_id then
    raise exception using errcode = '42501', message = 'audit row for another user';
  end if;
  perform private.insert_secret_audit(p_user_id, p_service_name, p_operation, p_ip, p_user_agent, p_success, p_error);
end
$$;

-- p_request: {"claims": {...verified JWT claims...}, "rateLimit": {"key", "limit", "windowSeconds"} | null}
-- Takes the rate-limit hit (raises P0429 over the limit), then acts as the user. Returns the
-- limiter's state ({hits, reset}) or null.
create function private.begin_user_request(p_request jsonb)
returns jsonb
language plpgsql
as $$
declare
  v_rate jsonb := p_request -> 'rateLimit';
  v_state jsonb;
begin
  if p_request -> 'claims' ->> 'sub' is null then
    raise exception using errcode = '22023', message = 'request without a subject';
  end if;
  if pg_catalog.jsonb_typeof(v_rate) = 'object' then
    v_state := private.rate_limit_hit(v_rate ->> 'key', (v_rate ->> 'limit')::integer, (v_rate ->> 'windowSeconds')::integer);
  end if;
  perform pg_catalog.set_config('role', 'authenticated', true),
          pg_catalog.set_config('request.jwt.claims', (p_request -> 'claims')::text, true);
  return v_state;
end
$$;
revoke execute on function private.begin_user_request(jsonb) from public;

-- manage-user-secrets ?action=get: the user's active secret (RLS) with last_used_at touched,
-- then the success audit row, all in the statement's transaction. No row: not found (the
-- caller audits the failure).
create function private.read_user_secret(p_request jsonb, p_service_name text, p_ip inet, p_user_agent text)
returns table (encrypted_value text, initialization_vector text, key_version integer, aad_bound boolean, rate_limit jsonb)
language plpgsql
as $$
declare
  v_rate jsonb := private.begin_user_request(p_request);
  v_user uuid := auth.uid();
  v_row record;
  v_found boolean;
begin
  update public.user_secrets u set last_used_at = pg_catalog.now()
  where u.user_id = v_user and u.service_name = p_service_name and u.is_active
  returning u.encrypted_value, u.initialization_vector, u.key_version, u.aad_bound into v_row;
  v_found := found;
  -- Back to the login role (the session user) to record the read: users never get INSERT on
  -- the audit table. The claims stay set.
  perform pg_catalog.set_config('role', 'none', true);
  if not v_found then
    return;
  end if;
  perform private.insert_secret_audit(v_user, p_service_name, 'read', p_ip, p_user_agent, true, null);
  encrypted_value := v_row.encrypted_value;
  initialization_vector := v_row.initialization_vector;
  key_version := v_row.key_version;
  aad_bound := v_row.aad_bound;
  rate_limit := v_rate;
  return next;
end
$$;
revoke execute on function private.read_user_secret(jsonb, text, inet, text) from public;
