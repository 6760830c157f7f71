/**
 * The MCP SDK client's OAuth side for tests, in memory: client registration, tokens and the PKCE
 * verifier kept on the object, the "browser" a function that logs in at the authorization URL and
 * returns the redirect back to the client; and the connect an MCP host does with it.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/auth"
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/auth"
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { assert, assertRejects } from "./assert.ts";

/** An SDK `OAuthClientProvider` whose authorization redirect is `login(url)`. */
export class LoginOAuthClient implements OAuthClientProvider {
  #client?: OAuthClientInformationMixed;
  #tokens?: OAuthTokens;
  #verifier = "";
  /** The authorization code the redirect brought back. */
  code?: string;
  /** Every authorization URL the SDK sent the user to. */
  readonly authorizationUrls: URL[] = [];
  /** `login` plays the browser: it returns the redirect to `redirectUrl` (with `code`, or `error`). */
  constructor(readonly login: (url: URL) => Promise<URL>, readonly clientName = "kubectl-mcp-test") {}
  get redirectUrl() {
    return "http://127.0.0.1/oauth/callback";
  }
  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.clientName,
      redirect_uris: [this.redirectUrl],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  clientInformation() {
    return this.#client;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.#client = info;
  }
  tokens() {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens) {
    this.#tokens = tokens;
  }
  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    const back = await this.login(url);
    this.code = back.searchParams.get("code") ?? undefined;
  }
  saveCodeVerifier(verifier: string) {
    this.#verifier = verifier;
  }
  codeVerifier() {
    return this.#verifier;
  }
}

/**
 * Connects an SDK client to `url` the way an MCP host does with OAuth: the first connect meets the
 * 401 and runs the SDK's flow up to the redirect; the code is exchanged with `finishAuth`; a second
 * transport connects with the token.
 */
export async function oauthConnect(
  url: string,
  oauth: LoginOAuthClient,
  headers: Record<string, string> = {},
): Promise<{ client: Client } & AsyncDisposable> {
  const transport = () =>
    new StreamableHTTPClientTransport(new URL(url), { authProvider: oauth, requestInit: { headers } });
  const first = transport();
  await assertRejects(() => new Client({ name: "t", version: "1" }).connect(first), UnauthorizedError);
  assert(oauth.code, "the provider redirected back with a code");
  await first.finishAuth(oauth.code!);
  const client = new Client({ name: "t", version: "1" });
  const second = transport();
  await client.connect(second);
  return {
    client,
    async [Symbol.asyncDispose]() {
      await second.terminateSession().catch(() => {});
      await client.close();
    },
  };
}
