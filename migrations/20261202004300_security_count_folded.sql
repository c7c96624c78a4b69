-- The security monitor's per-client-IP count rides on the request's own database round trip
-- (issue 14; shared/security/count.ts) instead of a statement of its own:
-- 1. private.security_refuse(key), called in a transaction's set-up statement right after the
--    count went out on the same connection, aborts the transaction (P0439, detail: seconds to
--    wait) when the address is blocked, so no statement of the route acts for it.
-- 2. private.begin_user_request counts a one-statement request itself when its argument carries
--    "security": {key, ip, limit, windowSeconds, blockSeconds, details}, and aborts the
--    statement (P0439) when the address is blocked. The count is taken before the rate limit
--    and the session check. Otherwise as in 20261202000300_permissions_and_sessions.sql.
create function private.security_refuse(p_key text)
returns void
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_wait integer := private.security_blocked(p_key);
begin
  if v_wait > 0 then
    raise exception using errcode = 'P0439', message = 'client address blocked', detail = v_wait::text;
  end if;
end
$$;
revoke execute on function private.security_refuse(text) from public;

create or replace function private.begin_user_request(p_request jsonb)
returns jsonb
language plpgsql
as $$
declare
  v_rate jsonb := p_request -> 'rateLimit';
  v_security jsonb := p_request -> 'security';
  v_session text := p_request -> 'claims' ->> 'session_id';
  v_state jsonb;
  v_wait integer;
begin
  if p_request -> 'claims' ->> 'sub' is null then
    raise exception using errcode = '22023', message = 'request without a subject';
  end if;
  if pg_catalog.jsonb_typeof(v_security) = 'object' then
    v_wait := private.security_count(v_security ->> 'key', (v_security ->> 'ip')::inet, null, 'rate_anomaly', 'high',
                                     (v_security ->> 'limit')::integer, (v_security ->> 'windowSeconds')::integer,
                                     (v_security ->> 'blockSeconds')::integer, v_security -> 'details');
    if v_wait > 0 then
      raise exception using errcode = 'P0439', message = 'client address blocked', detail = v_wait::text;
    end if;
  end if;
  if pg_catalog.jsonb_typeof(v_rate) = 'object' then
    v_state := private.rate_limit_hit(v_rate ->> 'key', (v_rate ->> 'limit')::integer, (v_rate ->> 'windowSeconds')::integer);
  end if;
  if (p_request ->> 'requireSession')::boolean is true and v_session is not null
     and (v_session !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
          or not private.session_alive(v_session::uuid)) then
    raise exception using errcode = 'P0401', message = 'session no longer exists';
  end if;
  perform pg_catalog.set_config('role', 'edge_user', true),
          pg_catalog.set_config('request.jwt.claims', (p_request -> 'claims')::text, true);
  return v_state;
end
$$;
revoke execute on function private.begin_user_request(jsonb) from public;
