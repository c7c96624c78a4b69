// User secrets (the seed's "API Key Management"): the closed list of services, how a value is
// sealed to its row, and the backend helpers other functions use to read a user's key.
import { z } from "zod";
import { text } from "../schemas/index.ts";
import { writeSecretAudit } from "../audit/index.ts";
import { open, seal, type Keyring, type Sealed } from "../crypto/index.ts";
import type { Db, Tx } from "../db/index.ts";

export const SERVICE_NAMES = [
  "gemini_api_key_encrypted",
  "openai_api_key_encrypted",
  "anthropic_api_key_encrypted",
  "mistral_api_key_encrypted",
  "buffer_oauth_token",
  "hootsuite_oauth_token",
  "later_oauth_token",
  "sprout_social_oauth_token",
  "facebook_oauth_token",
  "instagram_oauth_token",
  "twitter_oauth_token",
  "linkedin_oauth_token",
  "youtube_oauth_token",
  "tiktok_oauth_token",
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];
export const serviceNameSchema = z.enum(SERVICE_NAMES);

export const MAX_SECRET_BYTES = 8 * 1024;
export const secretValueSchema = text()
  .min(1)
  .refine((v) => new TextEncoder().encode(v).length <= MAX_SECRET_BYTES, { message: "at most 8 KiB" });

/** Additional authenticated data: the ciphertext only opens on the row it was written for. */
export function secretAad(userId: string, serviceName: string): string {
  return `user_secrets:${userId}:${serviceName}`;
}

export interface StoredSecret {
  encrypted_value: string;
  initialization_vector: string;
  key_version: number;
  aad_bound: boolean;
}

export function sealSecret(keyring: Keyring, userId: string, serviceName: string, value: string): Promise<Sealed> {
  return seal(keyring, value, secretAad(userId, serviceName));
}

/** Decrypt a stored row; rows from the seed's function (aad_bound = false) open without AAD. */
export function openSecret(keyring: Keyring, row: StoredSecret, userId: string, serviceName: string): Promise<string> {
  return open(
    keyring,
    { encryptedValue: row.encrypted_value, iv: row.initialization_vector, keyVersion: row.key_version },
    row.aad_bound ? secretAad(userId, serviceName) : undefined,
  );
}

/**
 * Service-side read of a user's secret for other functions (e.g. an AI call with the user's
 * own key). Audited as a read, updates last_used_at; null when the user has none.
 */
export async function getUserSecret(deps: { db: Db; keyring: Keyring }, userId: string, serviceName: ServiceName): Promise<string | null> {
  const audit = (tx: Tx, success: boolean, error: string | null) =>
    writeSecretAudit(tx, { userId, serviceName, operation: "read", ip: null, userAgent: "backend", success, error });
  try {
    return await deps.db.withService(async (tx) => {
      const [row] = await tx<StoredSecret[]>`
        update public.user_secrets set last_used_at = now()
        where user_id = ${userId} and service_name = ${serviceName} and is_active
        returning encrypted_value, initialization_vector, key_version, aad_bound`;
      const value = row ? await openSecret(deps.keyring, row, userId, serviceName) : null;
      await audit(tx, value !== null, value === null ? "Secret not found" : null);
      return value;
    });
  } catch (err) {
    // The read's transaction rolled back (e.g. the ciphertext did not open): record the failure.
    await deps.db.withService((tx) => audit(tx, false, "Internal server error")).catch(() => {});
    throw err;
  }
}

export async function hasUserSecret(deps: { db: Db }, userId: string, serviceName: ServiceName): Promise<boolean> {
  return await deps.db.withService(async (tx) => {
    const [[row]] = await Promise.all([
      tx<{ exists: boolean }[]>`select exists(select 1 from public.user_secrets
        where user_id = ${userId} and service_name = ${serviceName} and is_active) as exists`,
      writeSecretAudit(tx, { userId, serviceName, operation: "read", ip: null, userAgent: "backend", success: true }),
    ]);
    return row.exists;
  });
}
