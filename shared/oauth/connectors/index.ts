// The connectors social-post speaks: one adapter per wire format, chosen by the registry row.
import type { ProviderDef } from "../providers.ts";
import { buffer } from "./buffer.ts";
import { hootsuite } from "./hootsuite.ts";
import { later } from "./later.ts";
import { sproutSocial } from "./sprout-social.ts";
import type { Connector } from "./types.ts";

export * from "./types.ts";
export { callApi, ProviderUnauthorized, shouldRetry, type ApiContext } from "./http.ts";

export const CONNECTORS: Record<NonNullable<ProviderDef["connector"]>, Connector> = {
  buffer, hootsuite, later, sprout_social: sproutSocial,
};

/** Post length limits by network (characters); unknown networks get the default. */
export const TEXT_LIMITS: Record<string, number> = { twitter: 280, linkedin: 3000, instagram: 2200, facebook: 63206 };
export const DEFAULT_TEXT_LIMIT = 2200;
export const textLimitOf = (networks: string[]) =>
  Math.min(...(networks.length ? networks : ["unknown"]).map((n) => TEXT_LIMITS[n] ?? DEFAULT_TEXT_LIMIT));
