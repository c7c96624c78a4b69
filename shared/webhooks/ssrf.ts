// SSRF checks for every URL our servers call on a customer's behalf (webhook endpoints, the
// security alert webhook). A host is acceptable only if EVERY address it resolves to is public
// unicast, judged by ipaddr.js' own range tables (never hand-written ones): private, loopback,
// link-local (169.254.169.254 included), CGNAT, multicast, unspecified, broadcast, unique-local,
// IPv4-mapped/translated IPv6 of any of those, 6to4/Teredo/NAT64 and every other reserved block
// are refused. The check runs when an endpoint is registered and again before each attempt
// (DNS rebinding), and the connection then goes to the address that was checked.
// ipaddr.js is CommonJS, loaded by the first check rather than at start: in Deno the first
// CommonJS module costs a cold start ~40 ms (docs/performance.md).
import type IpAddr from "ipaddr.js";
import { lookup } from "node:dns/promises";

let ipaddr: typeof IpAddr;
async function loadIpaddr(): Promise<void> {
  ipaddr ??= (await import("ipaddr.js")).default;
}

/** Resolve a host name to its addresses (A and AAAA). Injected in tests. */
export type Resolver = (hostname: string) => Promise<string[]>;

export const systemResolver: Resolver = async (hostname) => {
  const found = await lookup(hostname, { all: true, verbatim: true });
  return found.map((a) => a.address);
};

export interface UrlPolicy {
  /** Development only: http:// and loopback addresses (WEBHOOKS_ALLOW_LOOPBACK). */
  allowLoopback: boolean;
}

export type UrlRefusal =
  | "invalid_url" // not a URL, credentials in it, or a fragment
  | "scheme" // not https (or http with the loopback flag)
  | "address" // an address that is not public unicast
  | "unresolvable"; // no address at all

export class UrlRefused extends Error {
  constructor(readonly reason: UrlRefusal, readonly address?: string) {
    super(`url refused: ${reason}`);
    this.name = "UrlRefused";
  }
}

export interface CheckedTarget {
  url: URL;
  /** The addresses checked, in resolver order; connect to the first. */
  addresses: string[];
}

/** ipaddr.js' name for the range an address is in ("unicast" for an ordinary public one). */
function addressRange(address: string): string {
  const parsed = ipaddr.process(address); // IPv4-mapped IPv6 → the IPv4 it carries
  const range = parsed.range();
  if (parsed.kind() === "ipv6" && range === "unicast") {
    // Prefixes ipaddr.js classes as unicast but that carry or route to an IPv4 address.
    const v6 = parsed as IpAddr.IPv6;
    if (v6.match(ipaddr.IPv6.parse("2002::"), 16)) return "6to4";
    if (v6.match(ipaddr.IPv6.parse("64:ff9b:1::"), 48)) return "rfc8215";
  }
  return range;
}

/** Is this address acceptable as a destination? (ipaddr.js loaded) */
function isPublicAddress(address: string, policy: UrlPolicy): boolean {
  if (!ipaddr.isValid(address)) return false;
  const range = addressRange(address);
  if (range === "unicast") return true;
  return policy.allowLoopback && range === "loopback";
}

/** A bracketed IPv6 host from the URL parser, or an IPv4 literal (already normalized by it). */
function literalAddress(hostname: string): string | null {
  const h = hostname.startsWith("[") && hostname.endsWith("]") ? hostname.slice(1, -1) : hostname;
  return ipaddr.isValid(h) && (h.includes(":") || /^\d+\.\d+\.\d+\.\d+$/.test(h)) ? h : null;
}

/**
 * Syntax only (no DNS): https, no credentials, no fragment. The WHATWG URL parser normalizes
 * decimal, octal and hexadecimal IPv4 forms (http://2130706433/ → 127.0.0.1), so what is checked
 * is what a client would connect to.
 */
export function parseTargetUrl(raw: string, policy: UrlPolicy): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UrlRefused("invalid_url");
  }
  if (url.username || url.password || url.hash) throw new UrlRefused("invalid_url");
  if (url.protocol !== "https:" && !(policy.allowLoopback && url.protocol === "http:")) throw new UrlRefused("scheme");
  if (!url.hostname) throw new UrlRefused("invalid_url");
  return url;
}

/**
 * Parse, resolve and judge a URL: refused if ANY address is not public (a name resolving to a
 * public and a private address is refused). Names ending in .localhost (RFC 6761) are refused
 * without asking DNS unless the loopback flag is on.
 */
export async function checkTarget(raw: string, policy: UrlPolicy, resolve: Resolver): Promise<CheckedTarget> {
  const url = parseTargetUrl(raw, policy);
  await loadIpaddr();
  const literal = literalAddress(url.hostname);
  let addresses: string[];
  if (literal) {
    addresses = [literal];
  } else {
    const name = url.hostname.replace(/\.$/, "").toLowerCase();
    if (!policy.allowLoopback && (name === "localhost" || name.endsWith(".localhost"))) throw new UrlRefused("address");
    try {
      addresses = await resolve(name);
    } catch {
      throw new UrlRefused("unresolvable");
    }
    if (!addresses.length) throw new UrlRefused("unresolvable");
  }
  for (const a of addresses) {
    if (!isPublicAddress(a, policy)) throw new UrlRefused("address", a);
  }
  return { url, addresses };
}
