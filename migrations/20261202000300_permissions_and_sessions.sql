-- Tenant administration joins the permission matrix (shared/tenancy/permissions.ts is the
-- source; tests/tenancy.test.ts checks this table against it), and sensitive actions can ask
-- whether the caller's session still exists.
insert into private.role_permissions (role, permission)
select r, p from (values
  ('OWNER', array['members.read','members.manage','whatsapp.connect','keys.rotate','audit.read','webhooks.manage']),
  ('ADMIN', array['members.read','members.manage','whatsapp.connect','audit.read','webhooks.manage']),
  ('MANAGER', array['members.read']),
  ('OPERATOR', array['members.read'])
) as m(r, ps), unnest(ps) as p
on conflict do nothing;

-- true when the session named by an access token's session_id still exists and has not
-- expired (signed out or revoked sessions are deleted by Supabase Auth). auth.sessions is
-- readable by the auth server only, hence security definer; private schema: not exposed.
create function private.session_alive(p_session uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (select 1 from auth.sessions s
                 where s.id = p_session and (s.not_after is null or s.not_after > now()))
$$;
revoke execute on function private.session_alive(uuid) from public;
grant execute on function private.session_alive(uuid) to authenticated, service_role;

-- One-statement requests (private.read_user_secret, …) can refuse a signed-out session: with
-- "requireSession": true in the request, a token whose session_id no longer names a live
-- session raises P0401 (shared/db answers 401). The rate-limit hit is taken first, so refused
-- requests still count. Otherwise as in 20261202000100_data_api_hardening.sql.
create or replace function private.begin_user_request(p_request jsonb)
returns jsonb
language plpgsql
as $$
declare
  v_rate jsonb := p_request -> 'rateLimit';
  v_session text := p_request -> 'claims' ->> 'session_id';
  v_state jsonb;
begin
  if p_request -> 'claims' ->> 'sub' is null then
    raise exception using errcode = '22023', message = 'request without a subject';
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
