-- The compliance report's facts for one distributor, computed from the tables (never a constant):
-- messages processed, AI responses generated (when the table exists), PII detections, privacy
-- requests fulfilled and pending (with the oldest pending one's age), retention status per table
-- and the last successful cleanup. Security definer (it counts rows RLS would show only in part
-- and tables a member may not read directly); a caller acting as a user must hold audit.read there.
create function private.compliance_facts(p_distributor uuid)
returns jsonb
language plpgsql stable security definer set search_path = ''
as $$
declare
  v_ai bigint;
  v_out jsonb;
begin
  if auth.uid() is not null and not exists (select 1 from private.distributors_with('audit.read') d where d = p_distributor) then
    raise exception using errcode = '42501', message = 'compliance facts not allowed';
  end if;
  if pg_catalog.to_regclass('public.ai_responses') is not null then
    execute 'select count(*) from public.ai_responses where distributor_id = $1' into v_ai using p_distributor;
  end if;
  select jsonb_build_object(
    'messages_processed', (select count(*) from public.messages where distributor_id = p_distributor),
    'ai_responses_generated', v_ai,
    'pii_detections', (select count(*) from public.pii_detection_results where distributor_id = p_distributor),
    'requests', (select coalesce(jsonb_object_agg(type || '_' || status, n), '{}') from (
                   select type, status, count(*) as n from public.privacy_requests where distributor_id = p_distributor group by 1, 2) x),
    'pending', (select coalesce(jsonb_agg(jsonb_build_object('id', id, 'type', type, 'created_at', created_at,
                   'age_days', floor(extract(epoch from now() - created_at) / 86400)::int) order by created_at), '[]')
                from public.privacy_requests where distributor_id = p_distributor and status = 'pending'),
    'retention', (select coalesce(jsonb_agg(to_jsonb(r) order by r.table_name), '[]') from private.retention_status(p_distributor) r),
    'last_cleanup_at', (select max(finished_at) from public.retention_runs where error is null and finished_at is not null)
  ) into v_out;
  return v_out;
end
$$;
revoke execute on function private.compliance_facts(uuid) from public;
grant execute on function private.compliance_facts(uuid) to edge_user;
