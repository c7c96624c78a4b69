-- manage-user-secrets' list and has as one statement each, like read_user_secret (get): the
-- request's rate-limit hit, role and claims (private.begin_user_request), the read as the user
-- under RLS, and the audit row as the login role, in the statement's own implicit transaction.
-- Before, each was a reserved connection with BEGIN, the set-up, the read and the audit insert,
-- and COMMIT: three round trips and five statements.

-- The user's active secrets (metadata only, never values), ordered by service name, as one JSON
-- array whose timestamps are formatted as JavaScript's toISOString (UTC, milliseconds), so the
-- answer is the one the route gave before. One row always, carrying the rate-limit state.
create function private.list_user_secrets(p_request jsonb, p_ip inet, p_user_agent text)
returns table (secrets jsonb, rate_limit jsonb)
language plpgsql
as $$
declare
  v_rate jsonb := private.begin_user_request(p_request);
  v_user uuid := auth.uid();
  v_secrets jsonb;
begin
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'service_name', u.service_name,
           'created_at', pg_catalog.to_char(u.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'updated_at', pg_catalog.to_char(u.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'last_used_at', pg_catalog.to_char(u.last_used_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'is_active', u.is_active,
           'metadata', u.metadata) order by u.service_name), '[]'::jsonb)
    into v_secrets
    from public.user_secrets u
   where u.user_id = v_user and u.is_active;
  -- Back to the login role to record the read (users never get INSERT on the audit table).
  perform pg_catalog.set_config('role', 'none', true);
  perform private.insert_secret_audit(v_user, null, 'read', p_ip, p_user_agent, true, null);
  secrets := v_secrets;
  rate_limit := v_rate;
  return next;
end
$$;
revoke execute on function private.list_user_secrets(jsonb, inet, text) from public;

-- Whether the user has an active secret for the service. One row always.
create function private.has_user_secret(p_request jsonb, p_service_name text, p_ip inet, p_user_agent text)
returns table (has_secret boolean, rate_limit jsonb)
language plpgsql
as $$
declare
  v_rate jsonb := private.begin_user_request(p_request);
  v_user uuid := auth.uid();
  v_exists boolean;
begin
  select exists(select 1 from public.user_secrets u
                 where u.user_id = v_user and u.service_name = p_service_name and u.is_active)
    into v_exists;
  perform pg_catalog.set_config('role', 'none', true);
  perform private.insert_secret_audit(v_user, p_service_name, 'read', p_ip, p_user_agent, true, null);
  has_secret := v_exists;
  rate_limit := v_rate;
  return next;
end
$$;
revoke execute on function private.has_user_secret(jsonb, text, inet, text) from public;
