/**
 * Credentials: what `connect()` takes (the seed's `CredentialInput`) and how it is normalized.
 *
 * A voicewire server's `POST /realtime/credential` answers `{credential: {kind: "token", token,
 * expiresAt: "<ISO 8601>"}}`; OpenAI's `POST /v1/realtime/client_secrets` answers `{value,
 * expires_at}` (epoch seconds). Both, and their parts, are accepted.
 */

/** The connection status (the seed's `TransportStatus`). */
export type TransportStatus = "disconnected" | "connecting" | "connected" | "reconnecting" | "closed";

/** A bearer token for the realtime endpoint (voicewire, OpenAI, xAI style). */
export interface TokenCredential {
  kind: "token";
  token: string;
  expiresAt: Date | null;
}

/** A signed URL that is the credential itself (ElevenLabs style). */
export interface UrlCredential {
  kind: "url";
  url: string;
  expiresAt: Date | null;
}

/** A normalized credential. */
export type ClientCredential = TokenCredential | UrlCredential;

/** When a credential expires: a Date, an ISO 8601 string, or epoch seconds (or milliseconds). */
export type ExpiryInput = Date | string | number | null | undefined;

/** A credential as JSON carries it (`expiresAt` a string) or as code builds it (a Date). */
export type ClientCredentialJSON =
  | { kind: "token"; token: string; expiresAt?: ExpiryInput }
  | { kind: "url"; url: string; expiresAt?: ExpiryInput };

/** The whole answer of voicewire's `POST /realtime/credential`. */
export interface CredentialResponse {
  credential: ClientCredentialJSON;
}

/** An OpenAI ephemeral client secret (`POST /v1/realtime/client_secrets`). */
export interface OpenAIClientSecret {
  value: string;
  expires_at?: number;
}

/** What `connect()` accepts (the seed's `CredentialInput`, plus the endpoints' whole answers). */
export type CredentialInput =
  | ClientCredential
  | ClientCredentialJSON
  | CredentialResponse
  | OpenAIClientSecret
  | { client_secret: OpenAIClientSecret };

/** An error with a stable, machine-readable `code` (e.g. `credential_expired`). */
export class RealtimeError extends Error {
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.name = "RealtimeError";
    this.code = code;
  }
}

/** `value` as a Date (numbers: epoch seconds below 1e12, else milliseconds), or null. */
export function parseExpiry(value: ExpiryInput): Date | null {
  if (value === undefined || value === null) return null;
  const date =
    value instanceof Date
      ? value
      : new Date(typeof value === "number" && value < 1e12 ? value * 1000 : value);
  if (Number.isNaN(date.getTime())) throw new Error(`credential expiresAt is not a date: ${String(value)}`);
  return date;
}

type Loose = { [key: string]: unknown };

function isObject(value: unknown): value is Loose {
  return value !== null && typeof value === "object";
}

/**
 * Normalize a credential: `{kind: "token", token, expiresAt}` or `{kind: "url", url, expiresAt}`
 * (expiresAt a Date or an ISO string), the credential endpoint's whole answer
 * (`{credential: {...}}`), or an OpenAI client secret (`{value, expires_at}`).
 */
export function parseCredential(input: CredentialInput): ClientCredential {
  const given: unknown = input;
  if (!isObject(given)) throw new Error("connect() needs a credential object");
  let raw: Loose = given;
  for (const key of ["credential", "client_secret"]) {
    const inner = raw[key];
    if (isObject(inner)) raw = inner;
  }
  const kind = raw["kind"] || (raw["url"] ? "url" : "token");
  const expiresAt = parseExpiry((raw["expiresAt"] ?? raw["expires_at"]) as ExpiryInput);
  if (kind === "token") {
    const token = raw["token"] ?? raw["value"];
    if (typeof token !== "string" || !token) throw new Error("the credential has no token");
    return { kind, token, expiresAt };
  }
  if (kind === "url") {
    const url = raw["url"];
    if (typeof url !== "string" || !url) throw new Error("the credential has no url");
    return { kind, url, expiresAt };
  }
  throw new Error(`unknown credential kind ${JSON.stringify(kind)}`);
}

/** Whether `credential`'s `expiresAt` is past (one without an expiry never expires). */
export function hasExpired(credential: ClientCredential): boolean {
  return credential.expiresAt !== null && credential.expiresAt.getTime() <= Date.now();
}

/** `credential`, unless it has expired (then a RealtimeError `credential_expired`). */
export function checkCredential(credential: ClientCredential): ClientCredential {
  if (hasExpired(credential)) {
    throw new RealtimeError("the credential has expired; fetch a new one", "credential_expired");
  }
  return credential;
}

export interface FetchCredentialOptions {
  /** The credential endpoint (default: this origin's `/realtime/credential`). */
  url?: string | URL;
  /** The request's JSON body (default `{}`; e.g. `{provider: "openai", modelId}`). */
  body?: unknown;
  /** Extra request headers (an `Authorization` of your own app, say). */
  headers?: Record<string, string>;
  /** The fetch to use (default: the global one). */
  fetch?: typeof fetch;
}

/**
 * Ask a voicewire server's `POST /realtime/credential` for a credential. A refusal (rate
 * limited, minting disabled, ...) throws a RealtimeError with the server's code and message.
 */
export async function fetchCredential(options: FetchCredentialOptions = {}): Promise<ClientCredential> {
  const doFetch = options.fetch ?? globalThis.fetch;
  const response = await doFetch(options.url ?? "/realtime/credential", {
    method: "POST",
    headers: { "Content-Type": "application/json", ...options.headers },
    body: JSON.stringify(options.body ?? {}),
  });
  let answer: unknown = null;
  try {
    answer = await response.json();
  } catch {
    // not JSON: said below
  }
  if (!response.ok) {
    const error = isObject(answer) && isObject(answer["error"]) ? answer["error"] : {};
    const message = typeof error["message"] === "string" ? error["message"] : response.statusText;
    const code = typeof error["code"] === "string" ? error["code"] : `http_${response.status}`;
    throw new RealtimeError(`could not get a credential (${response.status}): ${message}`, code);
  }
  if (!isObject(answer)) throw new RealtimeError("the credential endpoint did not answer JSON", "invalid_credential");
  return parseCredential(answer as unknown as CredentialInput);
}
