-- OAuth connections of social tools (oauth-callback, social-post).
-- oauth_states: one row per started flow, found by the SHA-256 of its state (the state itself is
--   never stored), bound to the user, platform and return URL, with the PKCE verifier sealed;
--   consumed once (used_at), atomically, by the callback.
-- oauth_connections: what is not secret about a connection (expiry, scopes, needs_reauth); the
--   tokens themselves live in user_secrets (<platform>_oauth_token), sealed like every secret.
-- social_posts: every post made through social-post: platform, profiles, the platform's post id,
--   schedule and status; never a token, never the text.
create table public.oauth_states (
  id uuid primary key default gen_random_uuid(),
  state_hash text not null unique check (state_hash ~ '^[0-9a-f]{64}$'),
  user_id uuid not null references auth.users(id) on delete cascade,
  platform text not null check (platform in ('buffer', 'hootsuite', 'later', 'sprout_social', 'facebook', 'instagram',
                                             'twitter', 'linkedin', 'youtube', 'tiktok')),
  return_url text not null check (length(return_url) <= 2048),
  verifier_encrypted text,
  verifier_iv text,
  key_version integer not null default 1,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  used_at timestamptz
);
create index oauth_states_user_id_idx on public.oauth_states (user_id, created_at);
alter table public.oauth_states enable row level security;
create policy oauth_states_select on public.oauth_states for select to authenticated
  using ((select auth.uid()) = user_id);
create policy oauth_states_insert on public.oauth_states for insert to authenticated
  with check ((select auth.uid()) = user_id and used_at is null);
create policy oauth_states_delete on public.oauth_states for delete to authenticated
  using ((select auth.uid()) = user_id);

create table public.oauth_connections (
  user_id uuid not null references auth.users(id) on delete cascade,
  platform text not null check (platform in ('buffer', 'hootsuite', 'later', 'sprout_social', 'facebook', 'instagram',
                                             'twitter', 'linkedin', 'youtube', 'tiktok')),
  needs_reauth boolean not null default false,
  expires_at timestamptz,
  scopes text[] not null default '{}',
  connected_at timestamptz not null default now(),
  refreshed_at timestamptz,
  updated_at timestamptz not null default now(),
  primary key (user_id, platform)
);
alter table public.oauth_connections enable row level security;
create policy oauth_connections_select on public.oauth_connections for select to authenticated
  using ((select auth.uid()) = user_id);
create policy oauth_connections_insert on public.oauth_connections for insert to authenticated
  with check ((select auth.uid()) = user_id);
create policy oauth_connections_update on public.oauth_connections for update to authenticated
  using ((select auth.uid()) = user_id) with check ((select auth.uid()) = user_id);

create table public.social_posts (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users(id) on delete cascade,
  platform text not null check (platform in ('buffer', 'hootsuite', 'later', 'sprout_social')),
  profile_ids text[] not null check (cardinality(profile_ids) between 1 and 50),
  platform_post_id text check (length(platform_post_id) <= 512),
  scheduled_at timestamptz,
  status text not null check (status in ('published', 'scheduled', 'failed')),
  error_code text,
  created_at timestamptz not null default now()
);
create index social_posts_user_id_idx on public.social_posts (user_id, created_at desc);
alter table public.social_posts enable row level security;
create policy social_posts_select on public.social_posts for select to authenticated
  using ((select auth.uid()) = user_id);
create policy social_posts_insert on public.social_posts for insert to authenticated
  with check ((select auth.uid()) = user_id);

-- The Data API rule (20261202000100): authenticated writes nothing; it may read its own
-- connection status and post history (no secrets there), never the flows' states.
revoke all on public.oauth_states, public.oauth_connections, public.social_posts from anon;
revoke insert, update, delete, truncate, references, trigger on public.oauth_states, public.oauth_connections, public.social_posts from authenticated;
revoke select on public.oauth_states from authenticated;
grant select on public.oauth_connections, public.social_posts to authenticated;
grant select, insert, delete on public.oauth_states to edge_user;
grant select, insert, update, delete on public.oauth_connections to edge_user;
grant select, insert on public.social_posts to edge_user;
revoke update, delete on public.social_posts from edge_user;
revoke update on public.oauth_states from edge_user;

create policy oauth_connections_delete on public.oauth_connections for delete to authenticated
  using ((select auth.uid()) = user_id);
