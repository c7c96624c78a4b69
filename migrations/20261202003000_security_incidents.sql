-- Security incidents: what monitoring (issue 14, outbound webhooks & monitoring) records and
-- audit-query (GET /security-incidents) shows. Created here, first, so both can build on it.
--
-- Read by the functions only (as edge_user, under the policy below): OWNER/ADMIN of a
-- distributor (permission audit.read) see its incidents; platform admins see every incident.
-- Platform admin is decided by claims a user cannot edit: the JWT `role` claim or
-- app_metadata.role / app_metadata.roles — never user_metadata.
-- The Data API role `authenticated` has no direct access at all (not even SELECT): incidents
-- carry addresses and are read through the audited API.
create table public.security_incidents (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid references public.distributors(id) on delete cascade,
  type text not null check (char_length(type) between 1 and 100),
  severity text not null check (severity in ('low', 'medium', 'high', 'critical')),
  ip inet,
  user_id uuid,
  details jsonb not null default '{}',
  created_at timestamptz not null default now(),
  resolved_at timestamptz,
  resolved_by uuid
);
create index security_incidents_distributor_created_idx on public.security_incidents (distributor_id, created_at desc, id desc);
create index security_incidents_created_idx on public.security_incidents (created_at desc, id desc);

alter table public.security_incidents enable row level security;
revoke all on public.security_incidents from anon, authenticated;
grant select on public.security_incidents to edge_user;

-- Platform admin, from claims the user cannot edit.
create function private.is_platform_admin() returns boolean
language sql stable set search_path = ''
as $$
  select coalesce(
    (auth.jwt() ->> 'role') = 'admin'
    or (auth.jwt() -> 'app_metadata' ->> 'role') = 'admin'
    or coalesce((auth.jwt() -> 'app_metadata' -> 'roles') @> '"admin"'::jsonb, false),
    false)
$$;
revoke execute on function private.is_platform_admin() from public;
grant execute on function private.is_platform_admin() to authenticated, service_role;

create policy security_incidents_select on public.security_incidents for select to authenticated
  using ((select private.is_platform_admin())
         or distributor_id in (select private.distributors_with('audit.read')));
