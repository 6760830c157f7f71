/**
 * The users of the dev identity provider: a map of user name to the claims its tokens carry
 * (`resource_access`, `groups`, `email`, anything), read from `--users FILE` (YAML or JSON), or a
 * default pair when no file is given.
 *
 * ```yaml
 * alice:
 *   email: alice@example.com
 *   groups: [accounting]
 *   resource_access:
 *     mcp-test/arithmetic:
 *       roles: ["tool:add", "tool:sum"]
 * bob: {}
 * ```
 *
 * @module
 */

import { parse } from "yaml";
import { InputError } from "../errors.ts";

/** Claims of one user: what its tokens carry besides the ones the provider sets. */
export type UserClaims = Record<string, unknown>;

/** User name -> claims. The name is the tokens' `sub`. */
export type DevUsers = Record<string, UserClaims>;

/**
 * Claims the provider sets itself on every token (who issued it, for whom, when, by which client):
 * a user may not carry them, or its tokens would lie about those.
 */
export const RESERVED_CLAIMS: readonly string[] = [
  "iss",
  "sub",
  "aud",
  "exp",
  "iat",
  "nbf",
  "jti",
  "client_id",
  "scope",
  "azp",
  "auth_time",
  "nonce",
  "at_hash",
];

/** A user name: what a shell, a URL and a `sub` carry without quoting. */
const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

/**
 * The default pair when no `--users` file is given: `alice`, an administrator, and `bob`, a
 * developer, told apart by `groups` and `roles` (what policies commonly read).
 */
export function defaultUsers(): DevUsers {
  return {
    alice: {
      name: "Alice Admin",
      email: "alice@example.com",
      groups: ["mcp-admins"],
      roles: ["admin"],
    },
    bob: {
      name: "Bob Developer",
      email: "bob@example.com",
      groups: ["mcp-developers"],
      roles: ["developer"],
    },
  };
}

const describe = (value: unknown) =>
  value === null
    ? "null"
    : Array.isArray(value)
    ? "a list"
    : typeof value === "object"
    ? "a mapping"
    : `a ${typeof value}`;

/**
 * Checks a parsed users document: a mapping of user names to mappings of claims. `source` names
 * where it came from in every error (a file name, or `--claims`).
 */
export function validateUsers(document: unknown, source: string): DevUsers {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    throw new InputError(
      `${source}: expected a mapping of user names to their claims, got ${describe(document)}`,
      { hint: "Example:\nalice:\n  groups: [admins]\nbob:\n  groups: [developers]" },
    );
  }
  const users: DevUsers = {};
  const entries = Object.entries(document as Record<string, unknown>);
  if (entries.length === 0) throw new InputError(`${source}: defines no users`);
  for (const [name, claims] of entries) {
    if (!USER_NAME.test(name)) {
      throw new InputError(
        `${source}: invalid user name ${JSON.stringify(name)}: use letters, digits and . _ @ + - ` +
          "(starting with a letter or digit, at most 64 characters)",
      );
    }
    users[name] = validateClaims(claims ?? {}, `${source}: ${name}`);
  }
  return users;
}

/** Checks one user's claims: a mapping without the claims the provider sets. */
export function validateClaims(claims: unknown, where: string): UserClaims {
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new InputError(`${where}: the claims must be a mapping, got ${describe(claims)}`);
  }
  for (const claim of Object.keys(claims)) {
    if (RESERVED_CLAIMS.includes(claim)) {
      throw new InputError(
        `${where}.${claim}: the identity provider sets "${claim}" itself; remove it` +
          (claim === "sub" ? " (the user's name is its sub)" : ""),
      );
    }
  }
  return structuredClone(claims) as UserClaims;
}

/** YAML or JSON text as a document; `source` names it in the error. */
function parseDocument(text: string, source: string): unknown {
  try {
    return parse(text);
  } catch (error) {
    throw new InputError(`${source}: not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`, {
      cause: error,
    });
  }
}

/** The YAML or JSON document in the file at `path`; `what` names the file in errors. */
async function readDocument(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw new InputError(`cannot read the ${what} ${path}: ${(error as Error).message}`, { cause: error });
  }
  return parseDocument(text, path);
}

/** Parses YAML or JSON text as a users document (see {@linkcode validateUsers}). */
export function parseUsers(text: string, source: string): DevUsers {
  return validateUsers(parseDocument(text, source), source);
}

/** Reads `--users FILE`. */
export async function readUsersFile(path: string): Promise<DevUsers> {
  return validateUsers(await readDocument(path, "users file"), path);
}

/** Reads `--claims FILE`: one identity's claims (a mapping), for a token with exactly those. */
export async function readClaimsFile(path: string): Promise<UserClaims> {
  const document = await readDocument(path, "claims file");
  // `sub` may name the subject here (it is a what-if identity, not one of the provider's users).
  if (typeof document === "object" && document !== null && !Array.isArray(document)) {
    const { sub, ...rest } = document as Record<string, unknown>;
    if (sub !== undefined && typeof sub !== "string") {
      throw new InputError(`${path}: sub: expected a string, got ${describe(sub)}`);
    }
    return { ...validateClaims(rest, path), ...(sub !== undefined ? { sub } : {}) };
  }
  return validateClaims(document, path);
}

/** One line about a user for listings: its groups and roles, or how many claims it has. */
export function describeUser(claims: UserClaims): string {
  const parts: string[] = [];
  const list = (value: unknown) => Array.isArray(value) ? value.map(String).join(", ") : String(value);
  if (claims.groups !== undefined) parts.push(`groups: ${list(claims.groups)}`);
  if (claims.roles !== undefined) parts.push(`roles: ${list(claims.roles)}`);
  const access = claims.resource_access;
  if (typeof access === "object" && access !== null && !Array.isArray(access)) {
    for (const [client, value] of Object.entries(access)) {
      const roles = (value as { roles?: unknown })?.roles;
      if (roles !== undefined) parts.push(`${client}: ${list(roles)}`);
    }
  }
  if (parts.length) return parts.join("; ");
  const count = Object.keys(claims).length;
  return count === 0 ? "no claims" : `${count} claim${count === 1 ? "" : "s"}`;
}
