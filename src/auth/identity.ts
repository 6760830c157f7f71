/**
 * Who a verb acts as (`--token`, `--user`, `--claims`): the credential its MCP client presents to the
 * gateway, and, for what-if claims, the claims the replay's `jwt` methods take as verified.
 *
 * @module
 */

import { parse } from "yaml";
import { WHAT_IF_TOKEN } from "../../sim/auth/what_if.ts";
import { InputError } from "../errors.ts";

/** The identity a verb presents. */
export interface ClientIdentity {
  /** The credential sent as `Authorization: Bearer` (absent: anonymous). Never printed. */
  token?: string;
  /** What-if claims (`--claims`): the replay's `jwt` methods take them as verified. */
  claims?: Record<string, unknown>;
  /** How the identity is named in output: `anonymous`, `token`, `user alice`, `claims FILE`. */
  label: string;
}

/** The anonymous client: no credential. */
export const ANONYMOUS: ClientIdentity = { label: "anonymous" };

/**
 * A what-if identity from a claims file (JSON or YAML, one object: `sub`, `groups`,
 * `resource_access`, anything a policy reads from `auth.identity`).
 */
export async function claimsIdentity(path: string): Promise<ClientIdentity> {
  let text: string;
  try {
    text = path === "-" ? await new Response(Deno.stdin.readable).text() : await Deno.readTextFile(path);
  } catch (error) {
    throw new InputError(`cannot read the claims file ${path}: ${(error as Error).message}`);
  }
  let claims: unknown;
  try {
    claims = parse(text);
  } catch (error) {
    throw new InputError(`the claims file ${path} is not JSON or YAML: ${(error as Error).message}`);
  }
  if (typeof claims !== "object" || claims === null || Array.isArray(claims)) {
    throw new InputError(`the claims file ${path} must hold one object of claims (e.g. {"sub": "alice"})`);
  }
  return { token: WHAT_IF_TOKEN, claims: claims as Record<string, unknown>, label: `claims ${path}` };
}
