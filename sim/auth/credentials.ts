/**
 * Where an identity method reads its credential from, as Authorino's `AuthCredential` does
 * (`pkg/auth/credentials.go`): the `Authorization` header with a prefix (the default, `Bearer`), a
 * custom header, a query string parameter or a cookie. Exactly one location per method; nothing
 * else is looked at, so a token in the query string is no credential for a method that reads the
 * `Authorization` header.
 *
 * @module
 */

import type { AuthRequest } from "./types.ts";

/** The prefix Authorino reads from the `Authorization` header when none is configured. */
export const DEFAULT_CREDENTIAL_PREFIX = "Bearer";

/** The error Authorino gives for a credential that is not where the method reads it. */
export const CREDENTIAL_NOT_FOUND = "credential not found";

/**
 * AuthPolicy's `credentials` of one authentication method. At most one location is used, the first
 * set in this order (Authorino's `Credentials.GetType`); none set means the `Authorization` header
 * with prefix `Bearer`. The CRD's `customHeader` has a `name` only: the whole header value is the
 * credential.
 */
export interface CredentialsSpec {
  /** `Authorization: <prefix> <credential>`; `prefix` defaults to `Bearer` (also when empty). */
  authorizationHeader?: { prefix?: string };
  /** `<name>: <credential>` (the name is matched case-insensitively). */
  customHeader?: { name: string };
  /** `?<name>=<credential>`. */
  queryString?: { name: string };
  /** `Cookie: <name>=<credential>`. */
  cookie?: { name: string };
}

/** The one location a {@linkcode CredentialsSpec} resolves to. */
export type CredentialLocation =
  | { in: "authorizationHeader"; prefix: string }
  | { in: "customHeader"; name: string }
  | { in: "queryString"; name: string }
  | { in: "cookie"; name: string };

/** The location `spec` names, with Authorino's defaults filled in. */
export function credentialLocation(spec?: CredentialsSpec): CredentialLocation {
  if (spec?.authorizationHeader) {
    return {
      in: "authorizationHeader",
      prefix: spec.authorizationHeader.prefix || DEFAULT_CREDENTIAL_PREFIX,
    };
  }
  if (spec?.customHeader) return { in: "customHeader", name: spec.customHeader.name };
  if (spec?.queryString) return { in: "queryString", name: spec.queryString.name };
  if (spec?.cookie) return { in: "cookie", name: spec.cookie.name };
  return { in: "authorizationHeader", prefix: DEFAULT_CREDENTIAL_PREFIX };
}

/**
 * What Authorino names the location by in the `WWW-Authenticate` challenge of a 401
 * (`<identifier> realm="<method>"`): the prefix, header, parameter or cookie name.
 */
export function credentialIdentifier(spec?: CredentialsSpec): string {
  const location = credentialLocation(spec);
  return location.in === "authorizationHeader" ? location.prefix : location.name;
}

/**
 * The credential of `req` at the location `spec` names, or undefined when there is none there.
 *
 * As Authorino: the `Authorization` header must start with the prefix (case-sensitive) and one
 * space, and the credential is the rest as is (`Bearer` alone, `bearer x` or `Basic x` is no
 * credential); a custom header is taken whole; a cookie is the first `name=` part of the `Cookie`
 * header; a query parameter is its first value, and an empty one is none. An
 * empty credential after a correct prefix is returned as `""` (it then fails verification, as
 * there).
 */
export function extractCredential(req: AuthRequest, spec?: CredentialsSpec): string | undefined {
  const location = credentialLocation(spec);
  switch (location.in) {
    case "authorizationHeader": {
      const header = req.headers.get("authorization");
      const prefix = `${location.prefix} `;
      return header !== null && header.startsWith(prefix) ? header.slice(prefix.length) : undefined;
    }
    case "customHeader":
      return req.headers.get(location.name) ?? undefined;
    case "cookie": {
      const header = req.headers.get("cookie");
      if (header === null) return undefined;
      const start = `${location.name}=`;
      for (const part of header.split(";")) {
        const pair = part.trim();
        if (pair.startsWith(start)) return pair.slice(start.length);
      }
      return undefined;
    }
    case "queryString":
      return queryValue(req.request.url, location.name);
  }
}

/**
 * The first value of `name` in the URL's query, decoded as Go's `url.ParseQuery` does (which
 * Authorino uses): `+` is a space, a pair with a `;` or a bad `%` escape is skipped, and an empty
 * value is no value.
 */
function queryValue(url: string, name: string): string | undefined {
  const at = url.indexOf("?");
  if (at < 0) return undefined;
  const hash = url.indexOf("#", at);
  const query = url.slice(at + 1, hash < 0 ? undefined : hash);
  for (const pair of query.split("&")) {
    if (pair === "" || pair.includes(";")) continue;
    const eq = pair.indexOf("=");
    const key = unescapeQuery(eq < 0 ? pair : pair.slice(0, eq));
    if (key !== name) continue;
    const value = unescapeQuery(eq < 0 ? "" : pair.slice(eq + 1));
    if (value === undefined) continue;
    return value === "" ? undefined : value;
  }
  return undefined;
}

function unescapeQuery(text: string): string | undefined {
  try {
    return decodeURIComponent(text.replaceAll("+", " "));
  } catch {
    return undefined;
  }
}
