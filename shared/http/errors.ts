// One error type with a closed set of codes; each code has one status and one generic message.
export const errorCatalog = {
  invalid_request: { status: 400, message: "Invalid request" },
  unauthorized: { status: 401, message: "Authentication required" },
  forbidden: { status: 403, message: "Forbidden" },
  mfa_required: { status: 403, message: "Multi-factor authentication required" },
  not_found: { status: 404, message: "Not found" },
  secret_not_found: { status: 404, message: "Secret not found" },
  conflict: { status: 409, message: "Conflict" },
  reconnection_required: { status: 409, message: "Reconnection required" },
  payload_too_large: { status: 413, message: "Payload too large" },
  unsupported_media_type: { status: 415, message: "Unsupported media type" },
  rate_limited: { status: 429, message: "Too many requests" },
  configuration: { status: 500, message: "Configuration error" },
  internal: { status: 500, message: "Internal server error" },
  provider_not_configured: { status: 501, message: "Provider not configured" },
  upstream: { status: 502, message: "Upstream service error" },
  ai_unavailable: { status: 502, message: "AI service unavailable" },
  ai_budget_exceeded: { status: 429, message: "AI budget exceeded" },
  unavailable: { status: 503, message: "Service unavailable" },
} as const;

export type ErrorCode = keyof typeof errorCatalog;

/** Which field of a 400 failed: where, a dotted path and zod's code; never the value. */
export interface Issue {
  in: "body" | "query" | "path" | "header";
  path: string;
  code: string;
}

export class ApiError extends Error {
  readonly status: number;
  constructor(
    public readonly code: ErrorCode,
    /** Extra response headers (e.g. Retry-After). */
    public readonly headers: Record<string, string> = {},
    /** Logged, never sent. */
    public readonly logDetail?: string,
    /** Sent with 400s and logged: field paths and codes only. */
    public readonly issues?: Issue[],
  ) {
    super(errorCatalog[code].message);
    this.name = "ApiError";
    this.status = errorCatalog[code].status;
  }
}
