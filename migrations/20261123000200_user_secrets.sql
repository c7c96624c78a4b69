-- The seed's "API Key Management" tables, plus what key rotation and row binding need:
-- key_version (which master key encrypted the row) and aad_bound (whether the ciphertext is
-- bound to user id + service name; rows written by the seed's function are not).
create table public.user_secrets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references auth.users(id) on delete cascade,
  service_name text not null,
  encrypted_value text not null,
  initialization_vector text not null,
  created_at timestamptz default now(),
  updated_at timestamptz default now(),
  last_used_at timestamptz,
  is_active boolean default true,
  metadata jsonb default '{}',
  key_version integer not null default 1,
  aad_bound boolean not null default false,
  unique (user_id, service_name)
);
create index user_secrets_key_version_idx on public.user_secrets (key_version, aad_bound);

alter table public.user_secrets enable row level security;

create policy "Users can view their own secrets metadata" on public.user_secrets
  for select to authenticated using ((select auth.uid()) = user_id);
create policy "Users can create their own secrets" on public.user_secrets
  for insert to authenticated with check ((select auth.uid()) = user_id);
create policy "Users can update their own secrets" on public.user_secrets
  for update to authenticated using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);
create policy "Users can delete their own secrets" on public.user_secrets
  for delete to authenticated using ((select auth.uid()) = user_id);

revoke all on public.user_secrets from anon;

create table public.secret_audit_logs (
  id uuid primary key default gen_random_uuid(),
  -- No foreign key: audit rows outlive the user they describe, and the hot path skips a
  -- KEY SHARE lock on auth.users per audited request. The writer validates the id.
  user_id uuid,
  service_name text,
  operation text not null check (operation in ('create', 'read', 'update', 'delete', 'invalid')),
  ip_address inet,
  user_agent text,
  success boolean not null,
  error_message text,
  created_at timestamptz not null default now()
);
create index secret_audit_logs_user_id_idx on public.secret_audit_logs (user_id, created_at desc);

alter table public.secret_audit_logs enable row level security;
create policy "Users can view their own audit logs" on public.secret_audit_logs
  for select to authenticated using ((select auth.uid()) = user_id);
revoke all on public.secret_audit_logs from anon;
revoke insert, update, delete on public.secret_audit_logs from authenticated;

-- The one writer of audit rows. Security definer so users never get INSERT on the table;
-- a caller acting as a user can only write rows about that user.
create function private.write_secret_audit(
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
  insert into public.secret_audit_logs (user_id, service_name, operation, ip_address, user_agent, success, error_message)
  values (p_user_id, p_service_name, p_operation, p_ip, left(p_user_agent, 512), p_success, left(p_error, 200));
end
$$;
revoke execute on function private.write_secret_audit(uuid, text, text, inet, text, boolean, text) from public;
grant execute on function private.write_secret_audit(uuid, text, text, inet, text, boolean, text) to authenticated, service_role;
