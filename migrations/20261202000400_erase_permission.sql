-- Erasing a customer's data (privacy requests) is the OWNER's alone (shared/tenancy/permissions.ts).
insert into private.role_permissions (role, permission) values ('OWNER', 'customers.erase') on conflict do nothing;

-- Reading the access log is audit.read (OWNER, ADMIN), no longer customers.export.
drop policy data_access_audit_select on public.data_access_audit;
create policy data_access_audit_select on public.data_access_audit for select to authenticated
  using (distributor_id in (select private.distributors_with('audit.read')));
