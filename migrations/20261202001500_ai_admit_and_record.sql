-- ai-respond without hot-row queues (issue 11's benchmark): under concurrent suggests of one
-- distributor the backends queued on three rows every request updated — the per-distributor
-- rate-limit row (taken as the first statement of the context transaction, so locked until
-- that transaction's commit came back from the function), the monthly budget row (reserve,
-- then settle inside the record transaction) and the provider's health row (written after
-- every success). A row lock held across a client round trip is held for as long as the
-- function's busy event loop takes to send the next statement.
--
-- Now each hot row is touched only inside ONE autocommit statement (its lock lasts that
-- statement's execution, never a round trip):
--   private.ai_admit   before any provider call: the rate-limit hit, the providers cooling
--                      down and the budget reservation (the worst case over the providers not
--                      cooling down), in this order;
--   private.ai_record  after it: the ai_responses row, the budget settlement and the health
--                      change — written only when the state changes (a success of a healthy
--                      provider writes nothing).
-- Budget rows stay one counter per distributor and month: the check "spent + reserved +
-- estimate ≤ budget" needs one serialization point whatever the layout (append-only rows would
-- need a lock over their sum), and one short statement on one row is that point.

-- What a request may do, decided in one statement. Raises P0429 (rate limit) like
-- private.rate_limit_take. p_estimates: {"<provider>": worst-case USD, …} for the providers the
-- request has a key for; cooling ones are left out of the reservation.
create function private.ai_admit(
  p_distributor uuid, p_user uuid,
  p_rate_key text, p_rate_limit integer, p_rate_window integer,
  p_estimates jsonb, p_default_budget numeric)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
declare
  v_rl jsonb;
  v_cooling text[];
  v_estimate numeric;
  v_month date := date_trunc('month', now() at time zone 'utc')::date;
  v_budget numeric;
  v_ok boolean := true;
begin
  if p_rate_key is not null then
    v_rl := case when p_distributor is null then private.rate_limit_take(p_rate_key, p_rate_limit, p_rate_window)
                 else private.rate_limit_take_member(p_rate_key, p_rate_limit, p_rate_window, p_distributor, p_user) end;
  end if;
  select coalesce(array_agg(h.provider), '{}') into v_cooling
  from private.ai_provider_health h where h.cooldown_until > now();
  if p_distributor is not null and p_estimates is not null then
    select max(e.value::numeric) into v_estimate
    from jsonb_each_text(p_estimates) e where e.key <> all (v_cooling);
    if v_estimate is not null then
      select o.monthly_budget_usd into v_budget from public.ai_budget_overrides o where o.distributor_id = p_distributor;
      v_budget := coalesce(v_budget, p_default_budget);
      update public.ai_budgets b set reserved_usd = b.reserved_usd + v_estimate
      where b.distributor_id = p_distributor and b.month = v_month
        and b.spent_usd + b.reserved_usd + v_estimate <= v_budget
      returning true into v_ok;
      if v_ok is null then
        -- No row yet this month (or over the budget): create it, then try once more.
        insert into public.ai_budgets (distributor_id, month) values (p_distributor, v_month)
        on conflict (distributor_id, month) do nothing;
        update public.ai_budgets b set reserved_usd = b.reserved_usd + v_estimate
        where b.distributor_id = p_distributor and b.month = v_month
          and b.spent_usd + b.reserved_usd + v_estimate <= v_budget
        returning true into v_ok;
      end if;
    end if;
  end if;
  return jsonb_build_object('rate_limit', v_rl, 'cooling', to_jsonb(v_cooling), 'reserved', v_estimate, 'ok', coalesce(v_ok, false));
end
$$;

-- The outcome of a request, in one statement: its ai_responses row (p_row: the columns the
-- gateway sets), the settlement of its reservation (p_estimate null: nothing was reserved) and
-- provider health from p_outcomes [{provider, ok}]: a failure counts (and may start a cooldown);
-- a success resets a provider that had failures or a cooldown, and writes nothing otherwise.
create function private.ai_record(
  p_row jsonb, p_estimate numeric, p_actual numeric, p_outcomes jsonb, p_threshold integer, p_cooldown_seconds integer)
returns void
language plpgsql security definer set search_path = ''
as $$
declare
  v_distributor uuid := (p_row ->> 'distributor_id')::uuid;
begin
  insert into public.ai_responses (id, distributor_id, user_id, message_id, route, agent_type, provider, model, attempts, attempt_log,
    input_tokens, output_tokens, cost_usd, latency_ms, confidence, contains_pii, flagged, status, error_class,
    response_encrypted, response_iv, key_version)
  select r.id, r.distributor_id, r.user_id, r.message_id, r.route, r.agent_type, r.provider, r.model, r.attempts, r.attempt_log,
    r.input_tokens, r.output_tokens, r.cost_usd, r.latency_ms, r.confidence, r.contains_pii, r.flagged, r.status, r.error_class,
    r.response_encrypted, r.response_iv, r.key_version
  from jsonb_populate_record(null::public.ai_responses, p_row) r;

  if v_distributor is not null and p_estimate is not null then
    update public.ai_budgets b
    set reserved_usd = greatest(0, b.reserved_usd - p_estimate), spent_usd = b.spent_usd + p_actual
    where b.distributor_id = v_distributor and b.month = date_trunc('month', now() at time zone 'utc')::date;
  end if;

  update private.ai_provider_health h set consecutive_failures = 0, cooldown_until = null, updated_at = now()
  where h.provider in (select o.provider from jsonb_to_recordset(p_outcomes) as o(provider text, ok boolean) where o.ok)
    and (h.consecutive_failures <> 0 or h.cooldown_until is not null);

  insert into private.ai_provider_health as h (provider, consecutive_failures, cooldown_until, updated_at)
  select o.provider, 1, case when p_threshold <= 1 then now() + make_interval(secs => p_cooldown_seconds) end, now()
  from jsonb_to_recordset(p_outcomes) as o(provider text, ok boolean)
  where not o.ok
  on conflict (provider) do update set
    consecutive_failures = h.consecutive_failures + 1,
    cooldown_until = case when h.consecutive_failures + 1 >= p_threshold then now() + make_interval(secs => p_cooldown_seconds)
                          else h.cooldown_until end,
    updated_at = now();
end
$$;

revoke execute on function private.ai_admit(uuid, uuid, text, integer, integer, jsonb, numeric),
  private.ai_record(jsonb, numeric, numeric, jsonb, integer, integer)
  from public, anon, authenticated;
