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
