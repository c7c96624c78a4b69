-- Outbound webhooks (issue 14): endpoints a distributor registers, one delivery per (event,
-- endpoint), one attempt row per HTTP attempt. Written by the functions: the webhooks routes act
-- as edge_user under the policies below (webhooks.manage); the delivery worker is a service.
-- The Data API role `authenticated` reads nothing here: endpoints hold sealed secrets, and
-- deliveries are read through the API.
create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  url text not null check (char_length(url) between 1 and 2048),
  events text[] not null check (cardinality(events) between 1 and 20),
  description text check (char_length(description) <= 500),
  enabled boolean not null default true,
  -- why it was disabled: 'gone' (410), 'failing' (5 days of failures), 'user'
  disabled_reason text check (disabled_reason in ('gone', 'failing', 'user')),
  -- the signing secret (whsec_…), sealed under the distributor's data key (AAD webhook_endpoints:<id>)
  secret_encrypted text not null,
  secret_iv text not null,
  secret_key_version integer not null,
  -- after a rotation, the old secret keeps signing beside the new one until previous_expires_at
  previous_secret_encrypted text,
  previous_secret_iv text,
  previous_secret_key_version integer,
  previous_expires_at timestamptz,
  -- first failure since the last success (null while healthy)
  failing_since timestamptz,
  created_by uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index webhook_endpoints_distributor_idx on public.webhook_endpoints (distributor_id, created_at, id);

create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints(id) on delete cascade,
  -- the outbox event (or a generated id for webhook.test)
  event_id uuid not null,
  event_type text not null,
  -- ids and types only, copied from the outbox
  payload jsonb not null,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'dead')),
  attempt_count integer not null default 0,
  -- attempts made before the last manual retry: the schedule starts again from there
  schedule_base integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (event_id, endpoint_id)
);
create index webhook_deliveries_due_idx on public.webhook_deliveries (next_attempt_at) where status = 'pending';
create index webhook_deliveries_endpoint_idx on public.webhook_deliveries (endpoint_id, created_at desc, id desc);
create index webhook_deliveries_distributor_idx on public.webhook_deliveries (distributor_id);

create table public.webhook_attempts (
  id uuid primary key default gen_random_uuid(),
  delivery_id uuid not null references public.webhook_deliveries(id) on delete cascade,
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  endpoint_id uuid not null,
  attempt_no integer not null,
  started_at timestamptz not null,
  duration_ms integer not null,
  status_code integer,
  -- null on a 2xx; else timeout, connect_error, dns_error, address_refused, redirect, http_error, gone
  error_class text,
  -- at most 1 KB, never stored when it echoes what we sent
  response_excerpt text check (char_length(response_excerpt) <= 1024),
  -- each attempt exactly once, whatever workers race
  unique (delivery_id, attempt_no)
);
create index webhook_attempts_delivery_idx on public.webhook_attempts (delivery_id, attempt_no);
create index webhook_attempts_distributor_idx on public.webhook_attempts (distributor_id);

alter table public.webhook_endpoints enable row level security;
alter table public.webhook_deliveries enable row level security;
alter table public.webhook_attempts enable row level security;
revoke all on public.webhook_endpoints, public.webhook_deliveries, public.webhook_attempts from anon, authenticated;
grant select, insert, update, delete on public.webhook_endpoints to edge_user;
grant select, insert, update on public.webhook_deliveries to edge_user;
grant select on public.webhook_attempts to edge_user;

create policy webhook_endpoints_select on public.webhook_endpoints for select to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_endpoints_insert on public.webhook_endpoints for insert to authenticated
  with check (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_endpoints_update on public.webhook_endpoints for update to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')))
  with check (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_endpoints_delete on public.webhook_endpoints for delete to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_deliveries_select on public.webhook_deliveries for select to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_deliveries_insert on public.webhook_deliveries for insert to authenticated
  with check (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_deliveries_update on public.webhook_deliveries for update to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')))
  with check (distributor_id in (select private.distributors_with('webhooks.manage')));
create policy webhook_attempts_select on public.webhook_attempts for select to authenticated
  using (distributor_id in (select private.distributors_with('webhooks.manage')));

-- The outbox, read by the worker (a service) in creation order.
create index if not exists event_outbox_created_idx on public.event_outbox (created_at, id) where delivered_at is null;
