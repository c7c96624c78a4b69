-- The Data API rule, and policies that cost one set per statement.
--
-- Supabase exposes schema `public` through PostgREST (the Data API) to every signed-in user with
-- their own JWT, as role `authenticated`. Nothing reachable there may bypass what the edge
-- functions enforce: encryption, masking, the role rules and audit. So:
--
-- 1. A role of our own, `edge_user` (NOLOGIN, member of `authenticated`), is what the functions
--    become for a user's request (shared/db: set_config('role', 'edge_user', true); here:
--    private.begin_user_request). Every policy `TO authenticated` and every grant to
--    `authenticated` applies to it too. PostgREST cannot switch to it: its login role
--    (`authenticator`) is not a member, and the JWT's `role` claim is signed by Supabase.
-- 2. Table privileges that only the functions need move from `authenticated` to `edge_user`:
--    `authenticated` keeps no INSERT/UPDATE/DELETE/TRUNCATE on any table in `public`, and no
--    SELECT where reading directly would skip the read audit (customers, orders, user_secrets)
--    or where the rows are the audit itself (data_access_audit, secret_audit_logs) or internal
--    (event_outbox, encryption_keys). It keeps SELECT, under RLS, where the API itself returns
--    the same rows unaudited and holds nothing in clear beyond masked previews (distributors,
--    distributor_members, whatsapp_accounts' public columns, conversations, messages,
--    pii_detection_results): that is what Supabase Realtime needs to notify a Messages page.
-- 3. Hard deletes of messages (never done by the API, which soft-deletes) lose their policy.
-- 4. Tenant policies test membership as `distributor_id in (select private.distributors_with(p))`:
--    one set per statement (a hashed subplan), instead of a security-definer call per row.
--
-- tests/db/data_api.sql proves it for every table in `public`, enumerated from the catalog.

-- ------------------------------------------------------------------------------- the role
-- Roles are cluster-wide: several databases of one cluster (the test suite's) may run this at
-- the same time, hence the existence check AND the duplicate handlers.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_roles where rolname = 'edge_user') then
    begin
      create role edge_user nologin inherit nosuperuser nocreatedb nocreaterole nobypassrls;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not pg_catalog.pg_has_role('edge_user', 'authenticated', 'member') then
    begin
      grant authenticated to edge_user;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  -- The role that runs migrations is the one the functions log in as (postgres on Supabase):
  -- it must be allowed to SET ROLE edge_user. (A superuser needs no membership.)
  if not pg_catalog.pg_has_role(current_user, 'edge_user', 'member') then
    begin
      execute pg_catalog.format('grant edge_user to %I', current_user);
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
end
$$;

-- ------------------------------------------------------------------------------- privileges
-- Nothing writable by the API roles in `public`, whatever a future grant forgot: every table,
-- view and materialized view there, enumerated now; tests/db/data_api.sql checks again.
do $$
declare
  t record;
begin
  for t in
    select c.oid::regclass as rel from pg_catalog.pg_class c
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
  loop
    execute pg_catalog.format('revoke insert, update, delete, truncate, references, trigger on %s from anon, authenticated', t.rel);
    execute pg_catalog.format('revoke all on %s from anon', t.rel);
  end loop;
end
$$;

-- Reads that the API audits, audit rows themselves, and internal tables: functions only.
revoke select on public.customers, public.orders, public.user_secrets, public.data_access_audit,
  public.secret_audit_logs, public.event_outbox, public.encryption_keys from authenticated;

-- What the functions do for a user (as edge_user, under the same policies): exactly what
-- `authenticated` could do before, minus hard deletes.
grant select on public.distributors, public.distributor_members, public.conversations, public.messages,
  public.pii_detection_results, public.customers, public.orders, public.user_secrets,
  public.data_access_audit, public.secret_audit_logs, public.event_outbox to edge_user;
grant insert, update on public.customers, public.conversations, public.messages, public.orders,
  public.user_secrets to edge_user;
-- whatsapp_accounts: the public columns only, already granted to authenticated (inherited);
-- encryption_keys: never (wrapped keys come from private.distributor_wrapped_keys).

-- Future tables in `public` created by this role: nothing for anon, no writes for authenticated;
-- the functions' role gets the usual set (RLS still decides). Each new table's migration says
-- what authenticated may read.
alter default privileges in schema public revoke all on tables from anon;
alter default privileges in schema public revoke insert, update, delete, truncate, references, trigger on tables from authenticated;
alter default privileges in schema public grant select, insert, update, delete on tables to edge_user;

-- The writers of audit rows and the reader of wrapped keys are for the functions, not for any
-- SQL a user could reach.
revoke execute on function private.write_secret_audit(uuid, text, text, inet, text, boolean, text) from authenticated;
revoke execute on function private.write_data_access_audit(uuid, uuid, text, text, uuid, inet, text, jsonb) from authenticated;
revoke execute on function private.distributor_wrapped_keys(uuid) from authenticated;
grant execute on function private.write_secret_audit(uuid, text, text, inet, text, boolean, text) to edge_user;
grant execute on function private.write_data_access_audit(uuid, uuid, text, text, uuid, inet, text, jsonb) to edge_user;
grant execute on function private.distributor_wrapped_keys(uuid) to edge_user;

-- The access-token hook (the one function in `public`, security invoker) is Supabase Auth's
-- alone: the default privileges had also given it to service_role.
revoke execute on function public.custom_access_token_hook(jsonb) from public, anon, authenticated, service_role;

-- ------------------------------------------------------------------------------- requests
-- As in 20261123000400_one_statement_requests.sql, acting as edge_user instead of authenticated.
create or replace function private.begin_user_request(p_request jsonb)
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
  perform pg_catalog.set_config('role', 'edge_user', true),
          pg_catalog.set_config('request.jwt.claims', (p_request -> 'claims')::text, true);
  return v_state;
end
$$;
revoke execute on function private.begin_user_request(jsonb) from public;

-- ------------------------------------------------------------------------------- policies
-- The distributors in which the current user (auth.uid()) holds a permission: one set per
-- statement, for `distributor_id in (select private.distributors_with('…'))`.
create function private.distributors_with(p_permission text) returns setof uuid
language sql stable security definer set search_path = '' rows 10
as $$
  select m.distributor_id
  from public.distributor_members m
  join private.role_permissions rp on rp.role = m.role and rp.permission = p_permission
  where m.user_id = (select auth.uid())
$$;
revoke execute on function private.distributors_with(text) from public;
grant execute on function private.distributors_with(text) to authenticated;

drop policy whatsapp_accounts_select on public.whatsapp_accounts;
create policy whatsapp_accounts_select on public.whatsapp_accounts for select to authenticated
  using (distributor_id in (select private.distributors_with('customers.read')));

drop policy customers_select on public.customers;
drop policy customers_insert on public.customers;
drop policy customers_update on public.customers;
create policy customers_select on public.customers for select to authenticated
  using (distributor_id in (select private.distributors_with('customers.read')));
create policy customers_insert on public.customers for insert to authenticated
  with check (distributor_id in (select private.distributors_with('customers.write')));
create policy customers_update on public.customers for update to authenticated
  using (distributor_id in (select private.distributors_with('customers.write')))
  with check (distributor_id in (select private.distributors_with('customers.write')));

drop policy conversations_select on public.conversations;
drop policy conversations_insert on public.conversations;
drop policy conversations_update on public.conversations;
create policy conversations_select on public.conversations for select to authenticated
  using (distributor_id in (select private.distributors_with('messages.read')));
create policy conversations_insert on public.conversations for insert to authenticated
  with check (distributor_id in (select private.distributors_with('messages.write')));
create policy conversations_update on public.conversations for update to authenticated
  using (distributor_id in (select private.distributors_with('messages.write')))
  with check (distributor_id in (select private.distributors_with('messages.write')));

drop policy messages_select on public.messages;
drop policy messages_insert on public.messages;
drop policy messages_update on public.messages;
drop policy messages_delete on public.messages; -- the API soft-deletes (deleted_at); no hard deletes
create policy messages_select on public.messages for select to authenticated
  using (distributor_id in (select private.distributors_with('messages.read')));
create policy messages_insert on public.messages for insert to authenticated
  with check (distributor_id in (select private.distributors_with('messages.write')) and direction = 'outbound');
create policy messages_update on public.messages for update to authenticated
  using (distributor_id in (select private.distributors_with('messages.write')))
  with check (distributor_id in (select private.distributors_with('messages.write')));

drop policy orders_select on public.orders;
drop policy orders_insert on public.orders;
drop policy orders_update on public.orders;
create policy orders_select on public.orders for select to authenticated
  using (distributor_id in (select private.distributors_with('orders.read')));
create policy orders_insert on public.orders for insert to authenticated
  with check (distributor_id in (select private.distributors_with('orders.create')));
create policy orders_update on public.orders for update to authenticated
  using (distributor_id in (select private.distributors_with('orders.confirm')))
  with check (distributor_id in (select private.distributors_with('orders.confirm')));

drop policy pii_results_select on public.pii_detection_results;
create policy pii_results_select on public.pii_detection_results for select to authenticated
  using (distributor_id in (select private.distributors_with('messages.read')));

drop policy data_access_audit_select on public.data_access_audit;
create policy data_access_audit_select on public.data_access_audit for select to authenticated
  using (distributor_id in (select private.distributors_with('customers.export')));

-- Every column a policy filters on has an index that leads with it (tests/db/data_api.sql checks
-- it from pg_policies); role_permissions is looked up by (role, permission), its primary key.
