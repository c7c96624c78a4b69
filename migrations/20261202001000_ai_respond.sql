-- ai-respond: every AI answer (and every failed request) with its accounting, per-distributor
-- agent settings, monthly budgets with atomic reservations, and provider health shared by
-- every function instance.
--
-- Rows of ai_responses belong either to a distributor (the Messages page: distributor_id set,
-- visible to members with ai.view_suggestions) or to a user (the social-marketing app:
-- distributor_id null, visible to that user only). The answer text is always sealed
-- (distributor rows with the distributor's data key, user rows with the master keyring; AAD
-- ai_responses:<id>), so the Data API gets no SELECT on it; the functions read it as edge_user.

create table public.ai_responses (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid references public.distributors(id) on delete cascade,
  user_id uuid not null references auth.users(id) on delete cascade,
  message_id uuid references public.messages(id) on delete set null,
  route text not null check (route in ('suggest', 'generate')),
  agent_type text check (agent_type ~ '^[a-z][a-z0-9_]{0,39}$'),
  provider text,
  model text,
  attempts integer not null default 0 check (attempts >= 0),
  -- One entry per attempt that reached (or tried to reach) a provider:
  -- {provider, model, error_class | null, status | null, latency_ms}. Never provider text.
  attempt_log jsonb not null default '[]',
  input_tokens integer not null default 0 check (input_tokens >= 0),
  output_tokens integer not null default 0 check (output_tokens >= 0),
  cost_usd numeric(14, 8) not null default 0 check (cost_usd >= 0),
  latency_ms integer not null default 0 check (latency_ms >= 0),
  confidence numeric(4, 3) check (confidence between 0 and 1),
  contains_pii boolean not null default false,
  flagged boolean not null default false,
  status text not null check (status in ('ok', 'failed')),
  error_class text check (error_class ~ '^[a-z_]{1,40}$'),
  response_encrypted text,
  response_iv text,
  key_version integer,
  -- Human feedback.
  rating smallint check (rating between 1 and 5),
  approved boolean,
  approved_by uuid references auth.users(id) on delete set null,
  edited_encrypted text,
  edited_iv text,
  edited_key_version integer,
  feedback_by uuid references auth.users(id) on delete set null,
  feedback_at timestamptz,
  created_at timestamptz not null default now()
);
create index ai_responses_distributor_idx on public.ai_responses (distributor_id, created_at desc, id desc);
create index ai_responses_flagged_idx on public.ai_responses (distributor_id, created_at desc, id desc) where flagged;
create index ai_responses_user_idx on public.ai_responses (user_id, created_at desc) where distributor_id is null;
create index ai_responses_message_idx on public.ai_responses (message_id);

create table public.ai_agents (
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  agent_type text not null check (agent_type ~ '^[a-z][a-z0-9_]{0,39}$'),
  system_prompt text not null check (char_length(system_prompt) between 1 and 8000),
  provider_order text[] check (provider_order <@ array['openai', 'anthropic', 'mistral', 'gemini']),
  model text check (char_length(model) <= 100),
  temperature numeric(3, 2) check (temperature between 0 and 2),
  max_tokens integer check (max_tokens between 1 and 32000),
  updated_by uuid references auth.users(id) on delete set null,
  updated_at timestamptz not null default now(),
  primary key (distributor_id, agent_type)
);

-- Monthly spend per distributor: spent (settled) and reserved (in flight). A request reserves
-- its worst-case cost before any provider is called and settles it afterwards.
create table public.ai_budgets (
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  month date not null,
  spent_usd numeric(14, 8) not null default 0,
  reserved_usd numeric(14, 8) not null default 0,
  primary key (distributor_id, month)
);

-- The OWNER's override of AI_MONTHLY_BUDGET_USD.
create table public.ai_budget_overrides (
  distributor_id uuid primary key references public.distributors(id) on delete cascade,
  monthly_budget_usd numeric(12, 2) not null check (monthly_budget_usd >= 0),
  updated_by uuid references auth.users(id) on delete set null,
  updated_at timestamptz not null default now()
);

-- Provider health, shared by every instance (service only).
create table private.ai_provider_health (
  provider text primary key,
  consecutive_failures integer not null default 0,
  cooldown_until timestamptz,
  updated_at timestamptz not null default now()
);
alter table private.ai_provider_health enable row level security;

-- ------------------------------------------------------------------------------- RLS
alter table public.ai_responses enable row level security;
alter table public.ai_agents enable row level security;
alter table public.ai_budgets enable row level security;
alter table public.ai_budget_overrides enable row level security;

create policy ai_responses_select on public.ai_responses for select to authenticated
  using (
    (distributor_id is null and user_id = (select auth.uid()))
    or distributor_id in (select private.distributors_with('ai.view_suggestions'))
  );
-- Feedback is written by the functions (as edge_user) on rows the caller can see.
create policy ai_responses_update on public.ai_responses for update to authenticated
  using (
    (distributor_id is null and user_id = (select auth.uid()))
    or distributor_id in (select private.distributors_with('ai.view_suggestions'))
  );

create policy ai_agents_select on public.ai_agents for select to authenticated
  using (distributor_id in (select private.distributors_with('ai.view_suggestions')));
create policy ai_agents_insert on public.ai_agents for insert to authenticated
  with check (distributor_id in (select private.distributors_with('ai.configure_agents')));
create policy ai_agents_update on public.ai_agents for update to authenticated
  using (distributor_id in (select private.distributors_with('ai.configure_agents')));

create policy ai_budgets_select on public.ai_budgets for select to authenticated
  using (distributor_id in (select private.distributors_with('ai.configure_agents')));
create policy ai_budget_overrides_select on public.ai_budget_overrides for select to authenticated
  using (distributor_id in (select private.distributors_with('ai.configure_agents')));
create policy ai_budget_overrides_insert on public.ai_budget_overrides for insert to authenticated
  with check (distributor_id in (select private.distributors_with('ai.configure_agents')));
create policy ai_budget_overrides_update on public.ai_budget_overrides for update to authenticated
  using (distributor_id in (select private.distributors_with('ai.configure_agents')));

-- The Data API: nothing writable; ai_responses holds sealed text and feedback read through the
-- audited API only. Agent settings and budgets are plain settings: readable under RLS.
revoke all on public.ai_responses, public.ai_agents, public.ai_budgets, public.ai_budget_overrides from anon;
revoke insert, update, delete, truncate, references, trigger on public.ai_responses, public.ai_agents,
  public.ai_budgets, public.ai_budget_overrides from authenticated;
revoke select on public.ai_responses from authenticated;
grant select, update on public.ai_responses to edge_user;
revoke insert, delete on public.ai_responses from edge_user;
grant select, insert, update on public.ai_agents, public.ai_budget_overrides to edge_user;
revoke delete on public.ai_agents, public.ai_budget_overrides from edge_user;
grant select on public.ai_budgets to edge_user;
revoke insert, update, delete on public.ai_budgets from edge_user;

-- ------------------------------------------------------------------------------- budget
-- Reserve `p_estimate` USD of this month's budget for one request, atomically: true when
-- spent + reserved + estimate stays within the budget (the override, else p_default).
create function private.ai_budget_reserve(p_distributor uuid, p_estimate numeric, p_default numeric)
returns boolean
language plpgsql security definer set search_path = ''
as $$
declare
  v_month date := date_trunc('month', now() at time zone 'utc')::date;
  v_budget numeric;
  v_ok boolean;
begin
  select o.monthly_budget_usd into v_budget from public.ai_budget_overrides o where o.distributor_id = p_distributor;
  v_budget := coalesce(v_budget, p_default);
  insert into public.ai_budgets (distributor_id, month) values (p_distributor, v_month)
  on conflict (distributor_id, month) do nothing;
  update public.ai_budgets b set reserved_usd = b.reserved_usd + p_estimate
  where b.distributor_id = p_distributor and b.month = v_month
    and b.spent_usd + b.reserved_usd + p_estimate <= v_budget
  returning true into v_ok;
  return coalesce(v_ok, false);
end
$$;

-- Settle a reservation: release `p_estimate`, add the actual cost.
create function private.ai_budget_settle(p_distributor uuid, p_estimate numeric, p_actual numeric)
returns void
language sql security definer set search_path = ''
as $$
  update public.ai_budgets b
  set reserved_usd = greatest(0, b.reserved_usd - p_estimate), spent_usd = b.spent_usd + p_actual
  where b.distributor_id = p_distributor and b.month = date_trunc('month', now() at time zone 'utc')::date
$$;

revoke execute on function private.ai_budget_reserve(uuid, numeric, numeric), private.ai_budget_settle(uuid, numeric, numeric)
  from public, anon, authenticated;
