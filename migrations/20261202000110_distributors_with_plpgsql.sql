-- private.distributors_with in PL/pgSQL (same result, same privileges).
--
-- A security-definer SQL function cannot be inlined, so its body is parsed and planned again at
-- every statement that calls it (reading index metapages each time: buffers that show in every
-- policy-checked query). PL/pgSQL keeps the plan for the session. The policies still call it once
-- per statement: `distributor_id in (select private.distributors_with('…'))` is a hashed subplan,
-- one call and then a hash probe per row. scripts/bench-rls.ts measures it.
create or replace function private.distributors_with(p_permission text) returns setof uuid
language plpgsql stable security definer set search_path = '' rows 10
as $$
begin
  return query
    select m.distributor_id
    from public.distributor_members m
    join private.role_permissions rp on rp.role = m.role and rp.permission = p_permission
    where m.user_id = auth.uid();
end
$$;
