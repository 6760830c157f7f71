/**
 * The dev identity provider of `kubectl mcp simulate --dev-idp`, and getting tokens from it.
 *
 * - {@linkcode startDevIdp}: the provider (npm `oidc-provider` in process, on loopback);
 * - {@linkcode readUsersFile}, {@linkcode defaultUsers}: its users (`--users FILE`);
 * - {@linkcode fetchDevToken}: a user's (or claims') token from a running simulator, found by its
 *   gateway URL (`kubectl mcp token`, `--user NAME` of other verbs).
 *
 * @module
 */

export { type DevIdp, type DevIdpOptions, type MintOptions, startDevIdp } from "./provider.ts";
export {
  DEFAULT_ACCESS_TOKEN_TTL,
  DEV_TOKEN_CLIENT_ID,
  DEV_TOKEN_ENDPOINT_FIELD,
  DEV_TOKEN_PATH,
  DEV_USERS_PATH,
} from "./endpoints.ts";
export {
  DEFAULT_GATEWAY_URL,
  type DevIdpLocation,
  type DevToken,
  fetchDevToken,
  type FetchDevTokenOptions,
  locateDevIdp,
} from "./client.ts";
export {
  defaultUsers,
  describeUser,
  type DevUsers,
  parseUsers,
  readClaimsFile,
  readUsersFile,
  RESERVED_CLAIMS,
  type UserClaims,
  validateUsers,
} from "./users.ts";
export { escapeHtml } from "./login_page.ts";
export { IdpError } from "./errors.ts";
