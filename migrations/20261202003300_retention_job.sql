-- private.retention_cleanup_job as first written (20261202003100) had a SET clause, and a
-- procedure with SET clauses cannot COMMIT. Recreated without it: every name is qualified, and
-- the work happens in private.retention_cleanup (security definer, empty search_path).
drop procedure private.retention_cleanup_job(text, integer, bigint);
create procedure private.retention_cleanup_job(p_trigger text default 'pg_cron', p_batch integer default 1000, p_max_total bigint default 5000000)
language plpgsql
as $$
declare
  v_result jsonb;
  v_run uuid;
  v_total bigint := 0;
begin
  loop
    v_result := private.retention_cleanup(p_batch, p_batch, p_trigger, v_run);
    v_run := (v_result ->> 'run_id')::uuid;
    v_total := v_total + (v_result ->> 'total')::bigint;
    commit;
    exit when (v_result ->> 'done')::boolean or v_result ? 'error' or v_total >= p_max_total;
  end loop;
end
$$;
revoke execute on procedure private.retention_cleanup_job(text, integer, bigint) from public;
