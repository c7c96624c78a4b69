-- Compliance: audit queries, privacy requests, retention policies and the retention cleanup.
--
-- 1. Audit reads are themselves audited in data_access_audit. Reads that belong to no
--    distributor (a user reading their own secret audit log, a platform admin reading every
--    incident) are recorded with distributor_id null, through private.write_own_audit (the
--    caller can only write rows about itself). Rows with a null distributor match no tenant
--    policy, so no distributor ever sees them.
-- 2. Keyset indexes for one-day pages of the audit tables (audit-query; EXPLAIN in
--    tests/compliance/audit-query.test.ts), and (distributor_id, created_at) indexes for the
--    retention deletes.
-- 3. privacy_requests, retention_policies, retention_runs: read and written by the functions
--    only (the Data API role `authenticated` has no privilege on them).
-- 4. private.retention_cleanup(max_rows, batch, trigger, run): bounded batches, resumable and
--    idempotent; private.retention_cleanup_job(): the scheduled procedure, one COMMIT per batch.
-- 5. pg_cron schedules the job where the extension exists (Supabase); elsewhere the migration
--    says so with a NOTICE and the HTTP function or `npm start` runs it.

-- ------------------------------------------------------------------------------- audit reads
alter table public.data_access_audit alter column distributor_id drop not null;

create function private.write_own_audit(p_action text, p_table text, p_ip inet, p_user_agent text, p_details jsonb)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  if auth.uid() is null then
    raise exception using errcode = '42501', message = 'audit row without a user';
  end if;
  insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, ip_address, user_agent, details)
  values (null, auth.uid(), left(p_action, 50), left(p_table, 100), null, p_ip, left(p_user_agent, 512), coalesce(p_details, '{}'));
end
$$;
revoke execute on function private.write_own_audit(text, text, inet, text, jsonb) from public;
grant execute on function private.write_own_audit(text, text, inet, text, jsonb) to edge_user;

create index data_access_audit_page_idx on public.data_access_audit (distributor_id, created_at desc, id desc);
drop index if exists public.data_access_audit_distributor_idx; -- a prefix of the one above
create index data_access_audit_record_idx on public.data_access_audit (record_id) where record_id is not null;
create index secret_audit_logs_page_idx on public.secret_audit_logs (user_id, created_at desc, id desc);
create index messages_distributor_created_idx on public.messages (distributor_id, created_at);
create index pii_detection_results_created_idx on public.pii_detection_results (distributor_id, created_at);
create index pii_detection_results_message_idx on public.pii_detection_results (message_id);
create index orders_customer_idx on public.orders (customer_id);
create index orders_conversation_idx on public.orders (conversation_id) where conversation_id is not null;
create index conversations_customer_idx on public.conversations (customer_id);
create index secret_audit_logs_created_idx on public.secret_audit_logs (created_at);

-- ------------------------------------------------------------------------------- privacy requests
create table public.privacy_requests (
  id uuid primary key default gen_random_uuid(),
  -- A distributor's customer (distributor_id + customer_id) or a user of the social app (subject_user_id).
  distributor_id uuid references public.distributors(id) on delete cascade,
  customer_id uuid,
  subject_user_id uuid,
  type text not null check (type in ('export', 'erase')),
  status text not null default 'pending' check (status in ('pending', 'completed', 'failed')),
  requested_by uuid,
  -- Rows per table (ids and counts only, never personal data).
  counts jsonb not null default '{}',
  details jsonb not null default '{}',
  created_at timestamptz not null default now(),
  completed_at timestamptz,
  check ((distributor_id is not null and customer_id is not null) or subject_user_id is not null)
);
create index privacy_requests_distributor_idx on public.privacy_requests (distributor_id, created_at desc, id desc);
create index privacy_requests_subject_user_idx on public.privacy_requests (subject_user_id, created_at desc);
create index privacy_requests_pending_idx on public.privacy_requests (created_at) where status = 'pending';
alter table public.privacy_requests enable row level security;
revoke all on public.privacy_requests from anon, authenticated;
grant select on public.privacy_requests to edge_user;
create policy privacy_requests_select on public.privacy_requests for select to authenticated
  using (distributor_id in (select private.distributors_with('audit.read')) or subject_user_id = (select auth.uid()));

-- ------------------------------------------------------------------------------- retention
-- One row per distributor that changed a default; no row = the defaults. Floors and ceilings
-- (also in shared/compliance/retention.ts): messages 30..3650 days, ai_responses 30..3650,
-- audit logs 365..3650, pii_detection_results 7..3650.
create table public.retention_policies (
  distributor_id uuid primary key references public.distributors(id) on delete cascade,
  messages_days integer not null default 730 check (messages_days between 30 and 3650),
  ai_responses_days integer not null default 365 check (ai_responses_days between 30 and 3650),
  audit_logs_days integer not null default 2555 check (audit_logs_days between 365 and 3650),
  pii_detection_results_days integer not null default 90 check (pii_detection_results_days between 7 and 3650),
  updated_by uuid,
  updated_at timestamptz not null default now()
);
alter table public.retention_policies enable row level security;
revoke all on public.retention_policies from anon, authenticated;
grant select, insert, update on public.retention_policies to edge_user;
create policy retention_policies_select on public.retention_policies for select to authenticated
  using (distributor_id in (select private.distributors_with('audit.read')));
create policy retention_policies_insert on public.retention_policies for insert to authenticated
  with check (distributor_id in (select private.distributors_with('customers.erase')));
create policy retention_policies_update on public.retention_policies for update to authenticated
  using (distributor_id in (select private.distributors_with('customers.erase')))
  with check (distributor_id in (select private.distributors_with('customers.erase')));

create table public.retention_runs (
  id uuid primary key default gen_random_uuid(),
  trigger text not null check (trigger in ('pg_cron', 'http', 'dev', 'manual')),
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  -- Rows deleted per table, summed over the run's batches.
  counts jsonb not null default '{}',
  total bigint not null default 0,
  done boolean not null default false,
  error text
);
create index retention_runs_started_idx on public.retention_runs (started_at desc);
alter table public.retention_runs enable row level security;
revoke all on public.retention_runs from anon, authenticated;
grant select on public.retention_runs to edge_user;
-- Not tenant data: every member with audit.read may see when the cleanup last ran.
create policy retention_runs_select on public.retention_runs for select to authenticated
  using (exists (select 1 from private.distributors_with('audit.read')));

-- The tenant tables under a policy: (table, policy column, default days). A table that does not
-- exist yet (ai_responses, until the AI migrations land) is skipped.
create function private.retention_targets()
returns table (table_name text, policy_column text, default_days integer)
language sql immutable set search_path = ''
as $$
  values ('messages', 'messages_days', 730),
         ('ai_responses', 'ai_responses_days', 365),
         ('pii_detection_results', 'pii_detection_results_days', 90),
         ('data_access_audit', 'audit_logs_days', 2555),
         ('security_incidents', 'audit_logs_days', 2555)
$$;

-- Rows past their policy, per table, for one distributor (compliance report): count and oldest.
create function private.retention_status(p_distributor uuid)
returns table (table_name text, retention_days integer, cutoff timestamptz, expired_rows bigint, oldest_expired timestamptz)
language plpgsql stable security definer set search_path = ''
as $$
declare
  t record;
  v_days integer;
  v_policy jsonb;
begin
  select to_jsonb(p) into v_policy from public.retention_policies p where p.distributor_id = p_distributor;
  for t in select * from private.retention_targets() loop
    if pg_catalog.to_regclass('public.' || t.table_name) is null then continue; end if;
    v_days := coalesce((v_policy ->> t.policy_column)::integer, t.default_days);
    table_name := t.table_name;
    retention_days := v_days;
    cutoff := now() - pg_catalog.make_interval(days => v_days);
    execute pg_catalog.format('select count(*), min(created_at) from public.%I where distributor_id = $1 and created_at < $2', t.table_name)
      into expired_rows, oldest_expired using p_distributor, cutoff;
    return next;
  end loop;
end
$$;
revoke execute on function private.retention_status(uuid) from public;

-- Deletes expired rows: at most p_max_rows in all, in statements of at most p_batch rows, each
-- by primary key through the (distributor_id, created_at) index. Every distributor, every
-- target table (with that distributor's policy), audit rows without a distributor and secret
-- audit logs (platform default: 2,555 days), then expired short-lived rows (rate-limit
-- windows; OAuth states and IP blocks once their tables exist). Idempotent (a second run finds
-- nothing) and resumable (a run stopped anywhere leaves only whole batches deleted; the next
-- run continues). Pass p_run to add to an existing run's counts (one run, many transactions).
-- Returns {run_id, counts, total, done}: done = nothing left that this run could see.
create function private.retention_cleanup(p_max_rows integer default 10000, p_batch integer default 1000,
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
            'delete from public.%1$I where id in (select id from public.%1$I where distributor_id %2$s and created_at < $2 limit $3)',
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
        select id from public.secret_audit_logs where created_at < v_cutoff limit v_take);
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
revoke execute on function private.retention_cleanup(integer, integer, text, uuid) from public;

-- The scheduled job: one batch per transaction (COMMIT in between), so no statement or
-- transaction holds the deleted rows' locks for more than one batch; stops when done or after
-- p_max_total rows (the next run continues).
create procedure private.retention_cleanup_job(p_trigger text default 'pg_cron', p_batch integer default 1000, p_max_total bigint default 5000000)
language plpgsql set search_path = ''
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

-- pg_cron where the server has it (Supabase: enable the extension first, under Database →
-- Extensions); elsewhere a NOTICE, and the edge function retention-cleanup or `npm start` runs
-- the cleanup. Returns what it did, so a test can call it.
create function private.schedule_retention_cleanup(p_schedule text default '17 3 * * *')
returns text
language plpgsql set search_path = ''
as $$
begin
  if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron') then
    raise notice 'pg_cron is not available on this server: schedule POST /functions/v1/retention-cleanup instead (docs/compliance.md)';
    return 'pg_cron not available';
  end if;
  begin
    create extension if not exists pg_cron;
    execute pg_catalog.format('select cron.schedule(%L, %L, %L)', 'retention-cleanup', p_schedule,
                              'call private.retention_cleanup_job(''pg_cron'')');
    return 'scheduled';
  exception when others then
    raise notice 'pg_cron could not be used (%): schedule POST /functions/v1/retention-cleanup instead', sqlstate;
    return 'pg_cron not usable';
  end;
end
$$;
revoke execute on function private.schedule_retention_cleanup(text) from public;
select private.schedule_retention_cleanup();
