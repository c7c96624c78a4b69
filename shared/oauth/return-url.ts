// Where a finished OAuth flow may send the browser. A return URL is accepted only when it starts
// with one of the configured prefixes exactly AND, parsed as a browser would, has the same
// scheme, host and port and stays under the prefix's path. Anything a browser could read as
// another host is refused first: backslashes, control characters and spaces, userinfo ("@"),
// percent-encoded separators, and non-http(s) schemes.
const MAX_RETURN_URL = 2048;

export function isAllowedReturnUrl(raw: unknown, allowed: readonly string[]): raw is string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_RETURN_URL) return false;
  // Browsers treat "\" as "/" and drop tabs/newlines: "https://app.example.com\@evil" or "/\tevil".
  if (/[\\\s\u0000-\u001f\u007f]/.test(raw)) return false;
  // Encoded "/", "\", "@", ".", ":" or "%" itself can be decoded again by a frontend router.
  if (/%(2f|5c|40|2e|3a|25|00)/i.test(raw)) return false;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return false;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return false;
  if (url.username || url.password || raw.includes("@")) return false;
  return allowed.some((prefix) => {
    let base: URL;
    try {
      base = new URL(prefix);
    } catch {
      return false;
    }
    if (!raw.startsWith(prefix)) return false;
    if (url.origin !== base.origin) return false;
    // "https://app.example.com" must not admit "https://app.example.com.evil.net" nor "/path" admit "/pathology".
    const rest = raw.slice(prefix.length);
    if (!prefix.endsWith("/") && rest !== "" && !/^[/?#]/.test(rest)) return false;
    // The parsed path must stay under the prefix's path (no "/app/../admin").
    const basePath = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`;
    const path = url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`;
    return path.startsWith(basePath);
  });
}

/** The return URL with our parameters added (any earlier values of them replaced). */
export function withParams(returnUrl: string, params: Record<string, string>): string {
  const url = new URL(returnUrl);
  for (const k of ["connected", "error", "message"]) url.searchParams.delete(k);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.href;
}
