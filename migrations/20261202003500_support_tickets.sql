-- Support tickets (seed 000): anyone may open one from the homepage through the function
-- support-tickets (anonymous, rate limited per client IP); a signed-in user's ticket carries
-- their id and they list their own.
--
-- What a person typed (subject, body, e-mail) is never stored in clear: one sealed JSON document
-- (AES-256-GCM with the platform master keyring, AAD support_tickets:<id>, key_version for
-- rotation). Only the status, whether PII was detected and the times are plain.
--
-- The seed's policies, kept: users read and create their own; anonymous users create tickets
-- without a user (stricter than the seed's `with check (true)`: an anonymous insert cannot name
-- a user). The Data API rule (20261202000100) still holds: neither `anon` nor `authenticated`
-- has any privilege on the table (rows hold ciphertext the function decrypts; creation is rate
-- limited in the function), so these policies apply to the functions' own role `edge_user`
-- (member of authenticated) and to anonymous creation through the function (as the service).
create table public.support_tickets (
  id uuid primary key default gen_random_uuid(),
  user_id uuid references auth.users(id) on delete cascade,
  content_encrypted text not null,
  content_iv text not null,
  key_version integer not null,
  contains_pii boolean not null default false,
  status text not null default 'open' check (status in ('open', 'pending', 'closed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index support_tickets_user_idx on public.support_tickets (user_id, created_at desc, id desc) where user_id is not null;
create index support_tickets_created_idx on public.support_tickets (created_at);

alter table public.support_tickets enable row level security;
create policy support_tickets_select_own on public.support_tickets for select to authenticated
  using ((select auth.uid()) = user_id);
create policy support_tickets_insert_own on public.support_tickets for insert to authenticated
  with check ((select auth.uid()) = user_id and status = 'open');
create policy support_tickets_insert_anon on public.support_tickets for insert to anon
  with check (user_id is null and status = 'open');

revoke all on public.support_tickets from anon, authenticated;
grant select, insert on public.support_tickets to edge_user;
