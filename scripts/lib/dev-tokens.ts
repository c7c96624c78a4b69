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
