/**
 * The dev identity provider's names a client needs too: its endpoints, the discovery field that
 * identifies it and its token defaults. Kept apart from `provider.ts` so a client (`kubectl mcp
 * token`, `tools --user`) does not load the provider (node:http, jose, oidc-provider).
 *
 * @module
 */

/** Where the dev token endpoint is, relative to the issuer; also named in the discovery document. */
export const DEV_TOKEN_PATH = "/dev/token";

/** Where the users are listed as JSON, relative to the issuer. */
export const DEV_USERS_PATH = "/dev/users";

/** The discovery document's field naming the dev token endpoint (how a client knows this provider). */
export const DEV_TOKEN_ENDPOINT_FIELD = "kubectl_mcp_dev_token_endpoint";

/** The `client_id` of tokens minted by the dev token endpoint. */
export const DEV_TOKEN_CLIENT_ID = "kubectl-mcp-token";

/** Default access token lifetime, in seconds. */
export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
