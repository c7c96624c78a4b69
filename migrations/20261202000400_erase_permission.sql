-- Erasing a customer's data (privacy requests) is the OWNER's alone (shared/tenancy/permissions.ts).
insert into private.role_permissions (role, permission) values ('OWNER', 'customers.erase') on conflict do nothing;
