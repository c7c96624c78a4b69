-- private.retention_cleanup, unchanged but for one thing: each batch picks its rows `order by
-- created_at` (oldest first). Without the order the planner, estimating that a distributor's
-- share of an expired table matches the LIMIT soon, chose a sequential scan, and once a
-- distributor's expired rows were gone every later batch scanned the whole table for it again
-- (1,000,000 expired messages: ~6,000 rows/s and falling, each batch ~100 ms per cleaned
-- distributor). With the order, the (distributor_id, created_at) index answers each batch from
-- its first expired entry (scripts/bench-retention.ts; figures in docs/compliance.md).
create or replace function private.retention_cleanup(p_max_rows integer default 10000, p_batch integer default 1000,
                                          p_trigger text default 'manual', p_run uuid default null)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v_run uuid := p_run;
  v_budget integer := greatest(1, least(p_max_rows, 1000000));
  v_batch integer := greatest(1, least(p_batch, 50000));
  v_counts jsonb := '{}';
  v_total bigint := 0;
  v_n integer;
  v_take integer;
  d record;
  t record;
  v_cutoff timestamptz;
  s record;
begin
  if v_run is null then
    insert into public.retention_runs (trigger) values (p_trigger) returning id into v_run;
  elsif not exists (select 1 from public.retention_runs where id = v_run) then
    raise exception using errcode = '22023', message = 'unknown retention run';
  end if;

  begin
    <<tables>>
    for t in select * from private.retention_targets() loop
      if pg_catalog.to_regclass('public.' || t.table_name) is null then continue; end if;
      for d in
        select x.id as distributor_id,
               now() - pg_catalog.make_interval(days => coalesce((to_jsonb(p) ->> t.policy_column)::integer, t.default_days)) as cutoff
        from public.distributors x left join public.retention_policies p on p.distributor_id = x.id
        union all
        select null, now() - pg_catalog.make_interval(days => t.default_days)
        where t.table_name in ('data_access_audit', 'security_incidents')
      loop
        loop
          v_take := least(v_batch, v_budget - v_total);
          exit tables when v_take <= 0;
          execute pg_catalog.format(
            'delete from public.%1$I where id in (select id from public.%1$I where distributor_id %2$s and created_at < $2 order by created_at limit $3)',
            t.table_name, case when d.distributor_id is null then 'is null and $1 is null' else '= $1' end)
            using d.distributor_id, d.cutoff, v_take;
          get diagnostics v_n = row_count;
          if v_n > 0 then
            v_counts := v_counts || jsonb_build_object(t.table_name, coalesce((v_counts ->> t.table_name)::bigint, 0) + v_n);
            v_total := v_total + v_n;
          end if;
          exit when v_n < v_take;
        end loop;
      end loop;
    end loop;

    -- Secret audit logs belong to users, not distributors: the platform default.
    v_cutoff := now() - interval '2555 days';
    loop
      v_take := least(v_batch, v_budget - v_total);
      exit when v_take <= 0;
      delete from public.secret_audit_logs where id in (
        select id from public.secret_audit_logs where created_at < v_cutoff order by created_at limit v_take);
      get diagnostics v_n = row_count;
      if v_n > 0 then
        v_counts := v_counts || jsonb_build_object('secret_audit_logs', coalesce((v_counts ->> 'secret_audit_logs')::bigint, 0) + v_n);
        v_total := v_total + v_n;
      end if;
      exit when v_n < v_take;
    end loop;

    -- Short-lived rows: rate-limit windows older than a day (no limit uses a longer window),
    -- and expired rows of the short-lived tables other features add (skipped until they exist).
    loop
      v_take := least(v_batch, v_budget - v_total);
      exit when v_take <= 0;
      delete from private.rate_limits where key in (
        select key from private.rate_limits where window_start < now() - interval '1 day' limit v_take);
      get diagnostics v_n = row_count;
      if v_n > 0 then
        v_counts := v_counts || jsonb_build_object('rate_limits', coalesce((v_counts ->> 'rate_limits')::bigint, 0) + v_n);
        v_total := v_total + v_n;
      end if;
      exit when v_n < v_take;
    end loop;
    for s in
      select n.nspname, c.relname, a.attname
      from (values ('oauth_states', 'expires_at'), ('ip_blocks', 'expires_at'), ('ip_blocks', 'blocked_until'),
                   ('webhook_replay_guard', 'expires_at')) as l(rel, col)
      join pg_catalog.pg_class c on c.relname = l.rel and c.relkind = 'r'
      join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname in ('public', 'private')
      join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = l.col and not a.attisdropped
    loop
      loop
        v_take := least(v_batch, v_budget - v_total);
        exit when v_take <= 0;
        execute pg_catalog.format('delete from %1$I.%2$I where ctid = any(array(select ctid from %1$I.%2$I where %3$I < now() limit $1))',
          s.nspname, s.relname, s.attname) using v_take;
        get diagnostics v_n = row_count;
        if v_n > 0 then
          v_counts := v_counts || jsonb_build_object(s.relname, coalesce((v_counts ->> s.relname)::bigint, 0) + v_n);
          v_total := v_total + v_n;
        end if;
        exit when v_n < v_take;
      end loop;
    end loop;

    update public.retention_runs r
       set counts = (select coalesce(jsonb_object_agg(k, coalesce((r.counts ->> k)::bigint, 0) + coalesce((v_counts ->> k)::bigint, 0)), '{}')
                     from (select jsonb_object_keys(r.counts) union select jsonb_object_keys(v_counts)) as keys(k)),
           total = r.total + v_total,
           done = v_total < v_budget,
           finished_at = now(),
           error = null
     where r.id = v_run;
  exception when others then
    -- The batches of this call roll back; the run records the failure (no message text that
    -- could quote data: the SQLSTATE only).
    update public.retention_runs set finished_at = now(), error = 'SQLSTATE ' || sqlstate, done = false where id = v_run;
    return jsonb_build_object('run_id', v_run, 'counts', '{}'::jsonb, 'total', 0, 'done', false, 'error', 'SQLSTATE ' || sqlstate);
  end;
  return jsonb_build_object('run_id', v_run, 'counts', v_counts, 'total', v_total, 'done', v_total < v_budget);
end
$$;
