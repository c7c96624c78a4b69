-- Multi-tenant messaging: distributors, members with roles, customers, conversations,
-- messages, orders, per-distributor data keys, PII detection results, access audit,
-- WhatsApp accounts and an event outbox. Every tenant table carries distributor_id, has RLS
-- on, and is visible only to members of that distributor. Membership is written only by
-- the backend (no insert/update/delete policy for users).

create table public.distributors (
  id uuid primary key default gen_random_uuid(),
  name text not null check (char_length(name) between 1 and 200),
  created_by uuid references auth.users(id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

create table public.distributor_members (
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  user_id uuid not null references auth.users(id) on delete cascade,
  role text not null check (role in ('OWNER', 'ADMIN', 'MANAGER', 'OPERATOR')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (distributor_id, user_id)
);
create index distributor_members_user_id_idx on public.distributor_members (user_id);

-- The seed's permission matrix, as data for the policies. Source of truth is
-- shared/tenancy/permissions.ts; a test checks this table against it.
create table private.role_permissions (
  role text not null,
  permission text not null,
  primary key (role, permission)
);
insert into private.role_permissions (role, permission)
select r, p from (values
  ('OWNER', array['messages.read','messages.write','messages.delete','ai.view_suggestions','ai.approve_responses','ai.configure_agents','customers.read','customers.write','customers.export','orders.read','orders.create','orders.confirm']),
  ('ADMIN', array['messages.read','messages.write','messages.delete','ai.view_suggestions','ai.approve_responses','customers.read','customers.write','customers.export','orders.read','orders.create','orders.confirm']),
  ('MANAGER', array['messages.read','messages.write','ai.view_suggestions','customers.read','customers.write','orders.read','orders.create','orders.confirm']),
  ('OPERATOR', array['messages.read','messages.write','ai.view_suggestions','customers.read','orders.read'])
) as m(r, ps), unnest(ps) as p;
alter table private.role_permissions enable row level security;

-- Membership checks for policies: security definer (reads distributor_members whatever the
-- caller's policies), in the private schema, empty search_path, wrapped in (select …) by callers.
create function private.is_member(p_distributor uuid) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (select 1 from public.distributor_members m
                 where m.distributor_id = p_distributor and m.user_id = (select auth.uid()))
$$;

create function private.has_permission(p_distributor uuid, p_permission text) returns boolean
language sql stable security definer set search_path = ''
as $$
  select exists (select 1 from public.distributor_members m
                 join private.role_permissions rp on rp.role = m.role
                 where m.distributor_id = p_distributor and m.user_id = (select auth.uid())
                   and rp.permission = p_permission)
$$;

create function private.member_distributors() returns setof uuid
language sql stable security definer set search_path = ''
as $$
  select distributor_id from public.distributor_members where user_id = (select auth.uid())
$$;

revoke execute on function private.is_member(uuid), private.has_permission(uuid, text), private.member_distributors() from public;
grant execute on function private.is_member(uuid), private.has_permission(uuid, text), private.member_distributors() to authenticated;

create table public.encryption_keys (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  purpose text not null default 'data' check (purpose in ('data', 'lookup')),
  version integer not null check (version >= 1),
  -- The data key, sealed by the master key (AES-256-GCM, AAD = distributor, purpose, version).
  wrapped_key text not null,
  wrap_iv text not null,
  master_key_version integer not null,
  status text not null default 'active' check (status in ('active', 'retired')),
  created_at timestamptz not null default now(),
  unique (distributor_id, purpose, version)
);
create unique index encryption_keys_one_active_idx on public.encryption_keys (distributor_id, purpose) where status = 'active';

create table public.whatsapp_accounts (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  phone_number_id text not null unique check (phone_number_id ~ '^[0-9]{1,32}$'),
  display_phone_number text not null check (char_length(display_phone_number) <= 32),
  access_token_encrypted text not null,
  access_token_iv text not null,
  key_version integer not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index whatsapp_accounts_distributor_idx on public.whatsapp_accounts (distributor_id);

create table public.customers (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  -- Keyed hashes (HMAC with the distributor's lookup key) to find a customer by WhatsApp id,
  -- phone or email without storing them in clear.
  wa_id_hash text,
  phone_hash text,
  email_hash text,
  -- {name, phone, email, wa_id} sealed with the distributor's data key, AAD = customers:<id>.
  contact_encrypted text,
  contact_iv text,
  key_version integer,
  tags text[] not null default '{}',
  notes text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (distributor_id, wa_id_hash)
);
create index customers_distributor_idx on public.customers (distributor_id, created_at desc, id);
create index customers_phone_hash_idx on public.customers (distributor_id, phone_hash);

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  customer_id uuid not null references public.customers(id) on delete cascade,
  whatsapp_account_id uuid references public.whatsapp_accounts(id) on delete set null,
  channel text not null default 'whatsapp' check (channel in ('whatsapp', 'web', 'email', 'sms')),
  status text not null default 'open' check (status in ('open', 'pending', 'closed')),
  preview text,
  last_message_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index conversations_one_per_customer_channel on public.conversations (distributor_id, customer_id, channel);
create index conversations_list_idx on public.conversations (distributor_id, last_message_at desc nulls last, id desc);

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  conversation_id uuid not null references public.conversations(id) on delete cascade,
  channel text not null default 'whatsapp',
  external_id text,
  direction text not null check (direction in ('inbound', 'outbound')),
  message_type text not null check (message_type in (
    'text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts',
    'interactive', 'button', 'reaction', 'unsupported', 'file', 'order_context')),
  -- The message body and its details, always sealed with the distributor's data key
  -- (AAD = messages:<id>); only a masked preview is stored in clear.
  content_encrypted text,
  content_iv text,
  key_version integer,
  preview text,
  has_pii boolean not null default false,
  status text not null check (status in ('received', 'sent', 'delivered', 'read', 'failed')),
  error_code text,
  error_title text,
  sent_by uuid references auth.users(id) on delete set null,
  external_timestamp timestamptz,
  status_updated_at timestamptz,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  unique (distributor_id, channel, external_id)
);
create index messages_conversation_idx on public.messages (conversation_id, created_at desc, id desc);
create index messages_distributor_idx on public.messages (distributor_id);

create table public.orders (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  customer_id uuid not null references public.customers(id) on delete cascade,
  conversation_id uuid references public.conversations(id) on delete set null,
  status text not null default 'pending' check (status in ('pending', 'confirmed', 'cancelled')),
  items jsonb not null,
  total numeric(14, 2),
  -- Free text typed by staff may hold personal data: sealed like message content.
  notes_encrypted text,
  notes_iv text,
  key_version integer,
  created_by uuid references auth.users(id) on delete set null,
  confirmed_by uuid references auth.users(id) on delete set null,
  confirmed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index orders_distributor_idx on public.orders (distributor_id, created_at desc, id desc);

create table public.pii_detection_results (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  message_id uuid not null references public.messages(id) on delete cascade,
  -- Types and counts only, never the values.
  pii_types text[] not null,
  counts jsonb not null,
  created_at timestamptz not null default now()
);
create index pii_detection_results_distributor_idx on public.pii_detection_results (distributor_id, message_id);

create table public.data_access_audit (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null,
  user_id uuid,
  action varchar(50) not null,
  table_name varchar(100),
  record_id uuid,
  ip_address inet,
  user_agent text,
  details jsonb not null default '{}',
  created_at timestamp with time zone default now()
);
create index data_access_audit_distributor_idx on public.data_access_audit (distributor_id, created_at desc);

create table public.event_outbox (
  id uuid primary key default gen_random_uuid(),
  distributor_id uuid not null references public.distributors(id) on delete cascade,
  event_type text not null,
  -- Ids and counts only; consumers read the data through the API.
  payload jsonb not null,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  attempts integer not null default 0
);
create index event_outbox_pending_idx on public.event_outbox (created_at) where delivered_at is null;
create index event_outbox_distributor_idx on public.event_outbox (distributor_id);

-- Row Level Security ---------------------------------------------------------------------
alter table public.distributors enable row level security;
alter table public.distributor_members enable row level security;
alter table public.encryption_keys enable row level security;
alter table public.whatsapp_accounts enable row level security;
alter table public.customers enable row level security;
alter table public.conversations enable row level security;
alter table public.messages enable row level security;
alter table public.orders enable row level security;
alter table public.pii_detection_results enable row level security;
alter table public.data_access_audit enable row level security;
alter table public.event_outbox enable row level security;

revoke all on public.distributors, public.distributor_members, public.encryption_keys, public.whatsapp_accounts,
  public.customers, public.conversations, public.messages, public.orders, public.pii_detection_results,
  public.data_access_audit, public.event_outbox from anon;
-- Written only by the backend (service connection or security-definer functions).
revoke insert, update, delete on public.distributors, public.distributor_members, public.encryption_keys,
  public.whatsapp_accounts, public.pii_detection_results, public.data_access_audit, public.event_outbox from authenticated;
-- Wrapped keys and tokens are never selectable by users, even their own tenant's.
revoke select on public.encryption_keys from authenticated;
revoke select on public.whatsapp_accounts from authenticated;
grant select (id, distributor_id, phone_number_id, display_phone_number, created_at, updated_at) on public.whatsapp_accounts to authenticated;

create policy distributors_select on public.distributors for select to authenticated
  using (id in (select private.member_distributors()));
create policy members_select on public.distributor_members for select to authenticated
  using (distributor_id in (select private.member_distributors()));
create policy whatsapp_accounts_select on public.whatsapp_accounts for select to authenticated
  using ((select private.has_permission(distributor_id, 'customers.read')) and distributor_id in (select private.member_distributors()));

create policy customers_select on public.customers for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'customers.read')));
create policy customers_insert on public.customers for insert to authenticated
  with check ((select private.has_permission(distributor_id, 'customers.write')));
create policy customers_update on public.customers for update to authenticated
  using ((select private.has_permission(distributor_id, 'customers.write')))
  with check ((select private.has_permission(distributor_id, 'customers.write')));

create policy conversations_select on public.conversations for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'messages.read')));
create policy conversations_insert on public.conversations for insert to authenticated
  with check ((select private.has_permission(distributor_id, 'messages.write')));
create policy conversations_update on public.conversations for update to authenticated
  using ((select private.has_permission(distributor_id, 'messages.write')))
  with check ((select private.has_permission(distributor_id, 'messages.write')));

create policy messages_select on public.messages for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'messages.read')));
create policy messages_insert on public.messages for insert to authenticated
  with check ((select private.has_permission(distributor_id, 'messages.write')) and direction = 'outbound');
create policy messages_update on public.messages for update to authenticated
  using ((select private.has_permission(distributor_id, 'messages.write')))
  with check ((select private.has_permission(distributor_id, 'messages.write')));
create policy messages_delete on public.messages for delete to authenticated
  using ((select private.has_permission(distributor_id, 'messages.delete')));

create policy orders_select on public.orders for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'orders.read')));
create policy orders_insert on public.orders for insert to authenticated
  with check ((select private.has_permission(distributor_id, 'orders.create')));
create policy orders_update on public.orders for update to authenticated
  using ((select private.has_permission(distributor_id, 'orders.confirm')))
  with check ((select private.has_permission(distributor_id, 'orders.confirm')));

create policy pii_results_select on public.pii_detection_results for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'messages.read')));
create policy data_access_audit_select on public.data_access_audit for select to authenticated
  using (distributor_id in (select private.member_distributors()) and (select private.has_permission(distributor_id, 'customers.export')));
create policy event_outbox_select on public.event_outbox for select to authenticated
  using (false);

-- A per-distributor rate limit that only members can spend: a request from a non-member
-- (answered 404 by the API) counts nothing, so a stranger cannot exhaust a tenant's quota.
create function private.rate_limit_take_member(p_key text, p_limit integer, p_window_seconds integer, p_distributor uuid, p_user uuid)
returns jsonb
language plpgsql security definer set search_path = ''
as $$
begin
  if not exists (select 1 from public.distributor_members m where m.distributor_id = p_distributor and m.user_id = p_user) then
    return null;
  end if;
  return private.rate_limit_take(p_key, p_limit, p_window_seconds);
end
$$;
revoke execute on function private.rate_limit_take_member(text, integer, integer, uuid, uuid) from public;

-- Wrapped keys of one distributor, readable inside the caller's own transaction: by the service
-- (no JWT claims) or by a member. Users never select encryption_keys directly; wrapped keys are
-- useless without the master key, which only the functions hold.
create function private.distributor_wrapped_keys(p_distributor uuid)
returns table (purpose text, version integer, wrapped_key text, wrap_iv text, master_key_version integer, status text)
language sql stable security definer set search_path = ''
as $$
  select k.purpose, k.version, k.wrapped_key, k.wrap_iv, k.master_key_version, k.status
  from public.encryption_keys k
  where k.distributor_id = p_distributor
    and (auth.uid() is null or private.is_member(p_distributor))
  order by k.version
$$;
revoke execute on function private.distributor_wrapped_keys(uuid) from public;
grant execute on function private.distributor_wrapped_keys(uuid) to authenticated, service_role;

-- The one writer of data_access_audit rows (users have no INSERT on the table). A caller
-- acting as a user can only write rows about itself in a distributor it belongs to.
create function private.write_data_access_audit(
  p_distributor uuid, p_user uuid, p_action text, p_table text, p_record uuid, p_ip inet, p_user_agent text, p_details jsonb)
returns void
language plpgsql security definer set search_path = ''
as $$
begin
  if auth.uid() is not null and (auth.uid() is distinct from p_user or not private.is_member(p_distributor)) then
    raise exception using errcode = '42501', message = 'audit row not allowed';
  end if;
  insert into public.data_access_audit (distributor_id, user_id, action, table_name, record_id, ip_address, user_agent, details)
  values (p_distributor, p_user, left(p_action, 50), left(p_table, 100), p_record, p_ip, left(p_user_agent, 512), coalesce(p_details, '{}'));
end
$$;
revoke execute on function private.write_data_access_audit(uuid, uuid, text, text, uuid, inet, text, jsonb) from public;
grant execute on function private.write_data_access_audit(uuid, uuid, text, text, uuid, inet, text, jsonb) to authenticated, service_role;

-- Supabase custom access token hook (registered in supabase/config.toml): adds the user's
-- memberships as claims for frontends. Claims are hints, stale until the token refreshes;
-- the API always checks distributor_members. As in Supabase's guide, the hook is not
-- security definer: supabase_auth_admin gets read access to the one table it needs.
create function public.custom_access_token_hook(event jsonb) returns jsonb
language plpgsql stable set search_path = ''
as $$
declare
  v_claims jsonb := coalesce(event -> 'claims', '{}'::jsonb);
  v_memberships jsonb;
begin
  select coalesce(jsonb_agg(jsonb_build_object('distributor_id', m.distributor_id, 'role', m.role) order by m.created_at), '[]'::jsonb)
    into v_memberships
    from public.distributor_members m
   where m.user_id = (event ->> 'user_id')::uuid;
  v_claims := jsonb_set(v_claims, '{app_metadata}', coalesce(v_claims -> 'app_metadata', '{}'::jsonb));
  v_claims := jsonb_set(v_claims, '{app_metadata,distributors}', v_memberships);
  return jsonb_set(event, '{claims}', v_claims);
end
$$;
grant usage on schema public to supabase_auth_admin;
grant execute on function public.custom_access_token_hook(jsonb) to supabase_auth_admin;
revoke execute on function public.custom_access_token_hook(jsonb) from public, anon, authenticated;
grant select on public.distributor_members to supabase_auth_admin;
create policy members_select_auth_hook on public.distributor_members for select to supabase_auth_admin using (true);
