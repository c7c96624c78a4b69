// Development tokens shaped like Supabase's: HS256, aud "authenticated", role, aal.
import { SignJWT } from "jose";
import type postgres from "postgres";

export interface DevTokenOptions {
  sub: string;
  email?: string;
  role?: "authenticated" | "service_role" | "anon" | string;
  admin?: boolean;
  aal?: "aal1" | "aal2";
  expiresInSeconds?: number;
  audience?: string;
  /** auth.sessions id, sent as the `session_id` claim as Supabase Auth does (see createSession). */
  sessionId?: string;
  extraClaims?: Record<string, unknown>;
}

export async function signDevToken(secret: string, o: DevTokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({
    email: o.email,
    role: o.role ?? "authenticated",
    aal: o.aal ?? "aal1",
    app_metadata: o.admin ? { provider: "email", role: "admin" } : { provider: "email" },
    user_metadata: {},
    is_anonymous: false,
    ...(o.sessionId ? { session_id: o.sessionId } : {}),
    ...o.extraClaims,
  })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(o.sub)
    .setAudience(o.audience ?? "authenticated")
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresInSeconds ?? 3600))
    .sign(new TextEncoder().encode(secret));
}

/** Make sure auth.users has the user (local and test databases only). */
export async function ensureUser(sql: postgres.Sql, id: string, email?: string): Promise<void> {
  await sql`insert into auth.users (id, email) values (${id}, ${email ?? null}) on conflict (id) do nothing`;
}

/**
 * Create an auth.sessions row for the user (as a Supabase sign-in does) and return its id, to
 * pass as `sessionId` to signDevToken. The user must exist (ensureUser).
 */
export async function createSession(
  sql: postgres.Sql, userId: string, o: { aal?: "aal1" | "aal2"; expiresInSeconds?: number; userAgent?: string } = {},
): Promise<string> {
  const id = crypto.randomUUID();
  const notAfter = new Date(Date.now() + (o.expiresInSeconds ?? 3600) * 1000);
  await sql`
    insert into auth.sessions (id, user_id, created_at, updated_at, aal, not_after, user_agent)
    values (${id}, ${userId}, now(), now(), ${o.aal ?? "aal1"}, ${notAfter}, ${o.userAgent ?? "dev-token"})`;
  return id;
}

/**
 * A local anon key: what Supabase's dashboard shows as the project's anon/publishable key, a JWT
 * with role "anon" and no user, signed with the project's JWT secret. supabase-js needs one to
 * build a client and sends it as `apikey`; the functions here never accept it as a user.
 */
export async function signAnonKey(secret: string, years = 10): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return await new SignJWT({ role: "anon", iss: "supabase-demo", ref: "local" })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt(now)
    .setExpirationTime(now + years * 365 * 24 * 3600)
    .sign(new TextEncoder().encode(secret));
}
