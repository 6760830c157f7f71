/**
 * The dev identity provider behind `kubectl mcp simulate --dev-idp`: npm `oidc-provider` in process
 * on loopback, with the users of a `--users` file (or a default pair), so that MCP clients log in
 * through the simulated gateway's 401 as they would through the cluster's.
 *
 * It serves OIDC discovery, the JWKS, the authorization code flow with PKCE (a login page listing
 * the users to pick from; consent is implied), client credentials, dynamic client registration
 * (RFC 7591) and resource indicators (RFC 8707): an access token asked for a resource is a JWT
 * whose `aud` is that resource and which carries the user's claims, where an AuthPolicy's rules
 * read them (`auth.identity.resource_access`, ...).
 *
 * For scripts it also mints a user's token directly, without a browser: `POST /dev/token` with
 * `{"user": NAME, "resource": URL}` (or `{"claims": {...}}`), which `kubectl mcp token` calls. It
 * listens on 127.0.0.1 only and grants nothing the login page does not already grant to anyone who
 * can reach it: every user logs in with one click, no password.
 *
 * ```ts
 * await using idp = await startDevIdp({ users: defaultUsers() });
 * const token = await idp.mint({ user: "alice", resource: "http://127.0.0.1:8080/mcp" });
 * ```
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { grantWhatWasAsked, loadOidcProvider, memoryAdapter } from "./oidc_provider.ts";
import { errorPage, loginPage } from "./login_page.ts";
import { type DevUsers, type UserClaims, validateClaims } from "./users.ts";
import { IdpError } from "./errors.ts";

import {
  DEFAULT_ACCESS_TOKEN_TTL,
  DEV_TOKEN_CLIENT_ID,
  DEV_TOKEN_ENDPOINT_FIELD,
  DEV_TOKEN_PATH,
  DEV_USERS_PATH,
} from "./endpoints.ts";

/** The scopes every resource accepts (the extension's default `scopesSupported` is `basic`). */
const BASE_SCOPES = ["openid", "basic"];

/** Options of {@linkcode startDevIdp}. */
export interface DevIdpOptions {
  /** The users who can log in: name (the tokens' `sub`) -> claims. */
  users: DevUsers;
  /** Port on 127.0.0.1 (default 0: any free port). */
  port?: number;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
}

/** What {@linkcode DevIdp.mint} mints a token for: a user, or claims of nobody in the users. */
export interface MintOptions {
  /** A user of the provider. */
  user?: string;
  /** Claims of a what-if identity (`sub` among them, else `claims`), instead of a user. */
  claims?: UserClaims;
  /** The resource (the gateway's MCP URL): the token's `aud`. */
  resource: string;
  /** Lifetime in seconds (default the provider's access token lifetime). */
  ttl?: number;
}

/** A running dev identity provider. */
export interface DevIdp {
  /** The issuer, `http://127.0.0.1:PORT`: tokens' `iss`, and the base of its endpoints. */
  readonly issuer: string;
  /** `<issuer>/.well-known/openid-configuration`. */
  readonly discoveryUrl: string;
  /** `<issuer>/jwks`. */
  readonly jwksUri: string;
  /** `<issuer>/dev/token`. */
  readonly devTokenEndpoint: string;
  /** The users, by name. */
  readonly users: Readonly<DevUsers>;
  /** An access token for a user or claims (what `POST /dev/token` answers). */
  mint(options: MintOptions): Promise<string>;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
  /** Closes with `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Longest request body the provider's own endpoints read (a claims document is small). */
const MAX_BODY_BYTES = 64 * 1024;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Uint8Array).length;
    if (size > MAX_BODY_BYTES) throw new IdpError(`the request body is over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Uint8Array);
  }
  const all = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    all.set(chunk, at);
    at += chunk.length;
  }
  return new TextDecoder().decode(all);
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.statusCode = status;
  res.setHeader("content-type", type);
  res.setHeader("cache-control", "no-store");
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, "application/json", JSON.stringify(body));

const isHttpUrl = (value: unknown): value is string =>
  typeof value === "string" && URL.canParse(value) && /^https?:$/.test(new URL(value).protocol);

/** Starts the provider on 127.0.0.1; stop it with `close()` or `await using`. */
export async function startDevIdp(options: DevIdpOptions): Promise<DevIdp> {
  const Provider = await loadOidcProvider();
  const users = structuredClone(options.users);
  const ttl = options.accessTokenTtl ?? DEFAULT_ACCESS_TOKEN_TTL;
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const ec = await generateKeyPair("ES256", { extractable: true });
  const keys = [
    { ...await exportJWK(rsa.privateKey), kid: "dev-rsa-1", alg: "RS256", use: "sig" },
    { ...await exportJWK(ec.privateKey), kid: "dev-ec-1", alg: "ES256", use: "sig" },
  ];

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "").split("?")[0];
    const own = path === DEV_TOKEN_PATH
      ? devToken
      : path === DEV_USERS_PATH
      ? devUsers
      : path.startsWith("/interaction/")
      ? interact
      : undefined;
    if (!own) {
      // oidc-provider answers CORS on its other endpoints; registration is open here anyway, and
      // browser clients (MCP Inspector without its proxy) register from their own origin.
      const origin = req.headers.origin;
      if (path === "/reg" && origin) {
        res.setHeader("access-control-allow-origin", origin);
        res.setHeader("vary", "Origin");
        if (req.method === "OPTIONS") {
          res.setHeader("access-control-allow-methods", "POST");
          res.setHeader("access-control-allow-headers", "content-type, authorization");
          res.setHeader("access-control-max-age", "3600");
          res.statusCode = 204;
          res.end();
          return;
        }
      }
      provider.callback()(req, res);
      return;
    }
    own(req, res, path).catch((error: unknown) => {
      if (res.headersSent) {
        res.end();
        return;
      }
      const status = error instanceof IdpError ? 400 : 500;
      if (path.startsWith("/interaction/")) {
        send(res, status, "text/html; charset=utf-8", errorPage((error as Error)?.message ?? String(error)));
      } else {
        sendJson(res, status, {
          error: status === 400 ? "invalid_request" : "server_error",
          error_description: (error as Error)?.message ?? String(error),
        });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const issuer = `http://127.0.0.1:${port}`;
  const devTokenEndpoint = `${issuer}${DEV_TOKEN_PATH}`;

  /** The login page, the implied consent, the chosen user and a cancelled login. */
  async function interact(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    const [, , uid, action] = path.split("/");
    let details;
    try {
      details = await provider.interactionDetails(req, res);
    } catch {
      throw new IdpError(
        "This sign-in expired or was started in another browser; go back to the application and sign in again.",
      );
    }
    if (details.uid !== uid) throw new IdpError("This sign-in link does not match the current sign-in.");
    const { prompt, params } = details;
    if (action === "abort") {
      await provider.interactionFinished(req, res, {
        error: "access_denied",
        error_description: "The user cancelled the sign-in.",
      }, { mergeWithLastSubmission: false });
      return;
    }
    if (prompt.name === "login") {
      if (action === "login" && req.method === "POST") {
        const user = new URLSearchParams(await readBody(req)).get("user") ?? "";
        if (!Object.hasOwn(users, user)) throw new IdpError(`There is no user ${JSON.stringify(user)}.`);
        await provider.interactionFinished(req, res, { login: { accountId: user } }, {
          mergeWithLastSubmission: false,
        });
        return;
      }
      const client = await provider.Client.find(String(params.client_id ?? ""));
      send(
        res,
        200,
        "text/html; charset=utf-8",
        loginPage({
          action: `/interaction/${uid}/login`,
          abort: `/interaction/${uid}/abort`,
          users,
          client: client?.clientName ?? String(params.client_id ?? ""),
        }),
      );
      return;
    }
    // Consent: implied, as for a first-party application.
    await grantWhatWasAsked(provider, req, res, details);
  }

  /** `POST /dev/token`: `{"user": NAME | "claims": {...}, "resource": URL}` -> an access token. */
  async function devToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") {
      res.setHeader("allow", "POST");
      sendJson(res, 405, { error: "invalid_request", error_description: `POST ${DEV_TOKEN_PATH}` });
      return;
    }
    // JSON only: a web page cannot send it cross-origin without a preflight this endpoint never answers.
    if (!/^application\/json\b/i.test(req.headers["content-type"] ?? "")) {
      throw new IdpError(`${DEV_TOKEN_PATH} takes a JSON body (content-type: application/json)`);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(await readBody(req));
    } catch {
      throw new IdpError(`the body of ${DEV_TOKEN_PATH} is not JSON`);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new IdpError(`the body of ${DEV_TOKEN_PATH} must be a JSON object`);
    }
    if (body.user !== undefined && typeof body.user !== "string") {
      throw new IdpError("user: expected a string");
    }
    if (typeof body.user === "string" && !Object.hasOwn(users, body.user)) {
      sendJson(res, 404, {
        error: "unknown_user",
        error_description: `no user ${JSON.stringify(body.user)}; the users are ${
          Object.keys(users).join(", ")
        }`,
        users: Object.keys(users),
      });
      return;
    }
    const token = await mint({
      user: body.user as string | undefined,
      claims: body.claims as UserClaims | undefined,
      resource: body.resource as string,
      ttl: typeof body.ttl === "number" ? body.ttl : undefined,
    });
    sendJson(res, 200, { access_token: token, token_type: "Bearer", expires_in: body.ttl ?? ttl });
  }

  /** `GET /dev/users`: the users' names and claims (what the login page shows). */
  function devUsers(_req: IncomingMessage, res: ServerResponse): Promise<void> {
    sendJson(res, 200, { users });
    return Promise.resolve();
  }

  async function mint(mintOptions: MintOptions): Promise<string> {
    const { user, resource } = mintOptions;
    if ((user === undefined) === (mintOptions.claims === undefined)) {
      throw new IdpError("name either a user or claims, not both or neither");
    }
    if (!isHttpUrl(resource)) throw new IdpError("resource: expected the gateway's http(s) MCP URL");
    const life = mintOptions.ttl ?? ttl;
    if (!Number.isInteger(life) || life < 1 || life > 24 * 3600) {
      throw new IdpError("ttl: expected whole seconds between 1 and 86400");
    }
    let claims: UserClaims;
    let sub: string;
    if (user !== undefined) {
      if (!Object.hasOwn(users, user)) throw new IdpError(`no user ${JSON.stringify(user)}`);
      claims = users[user];
      sub = user;
    } else {
      const { sub: given, ...rest } = (mintOptions.claims ?? {}) as Record<string, unknown>;
      claims = validateClaims(rest, "claims");
      if (given !== undefined && typeof given !== "string") {
        throw new IdpError("claims.sub: expected a string");
      }
      sub = (given as string | undefined) ?? "claims";
    }
    // The shape of oidc-provider's own JWT access tokens, so a policy sees no difference.
    return await new SignJWT({ ...claims, client_id: DEV_TOKEN_CLIENT_ID, scope: BASE_SCOPES.join(" ") })
      .setProtectedHeader({ alg: "RS256", typ: "at+jwt", kid: "dev-rsa-1" })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(resource)
      .setIssuedAt()
      .setExpirationTime(`${life}s`)
      .setJti(crypto.randomUUID())
      .sign(rsa.privateKey);
  }

  // The server above reaches it only once it listens, after this line ran.
  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: [],
    jwks: { keys },
    cookies: { keys: [crypto.randomUUID()] },
    discovery: { [DEV_TOKEN_ENDPOINT_FIELD]: devTokenEndpoint },
    findAccount: (_ctx: unknown, sub: string) => {
      if (!Object.hasOwn(users, sub)) return undefined;
      return { accountId: sub, claims: () => ({ sub, ...users[sub] }) };
    },
    claims: { openid: ["sub"], basic: [] },
    scopes: ["openid", "offline_access", "basic"],
    responseTypes: ["code"],
    pkce: { required: () => true },
    // Browser clients (MCP Inspector) call the token and registration endpoints from their own origin.
    clientBasedCORS: () => true,
    ttl: {
      AccessToken: ttl,
      ClientCredentials: ttl,
      AuthorizationCode: 120,
      IdToken: ttl,
      Interaction: 900,
      Session: 8 * 3600,
      Grant: 8 * 3600,
      RefreshToken: 8 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (_ctx: unknown, _client: unknown, oneOf?: string[]) => oneOf ?? undefined,
        useGrantedResource: () => true,
        // Any gateway is a resource server here; the scopes it accepts are the base ones and
        // whatever the client asks (the extension's `scopesSupported`).
        getResourceServerInfo: (ctx: { oidc?: { params?: { scope?: unknown } } }, resource: string) => {
          if (!isHttpUrl(resource)) throw new Provider.errors.InvalidTarget();
          const asked = typeof ctx.oidc?.params?.scope === "string" ? ctx.oidc.params.scope.split(" ") : [];
          return {
            scope: [...new Set([...BASE_SCOPES, ...asked.filter(Boolean)])].join(" "),
            audience: resource,
            accessTokenTTL: ttl,
            accessTokenFormat: "jwt",
            jwt: { sign: { alg: "RS256" } },
          };
        },
      },
    },
    // The user's claims ride in its access tokens, where Authorino's `auth.identity` reads them.
    extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => {
      const claims = token.accountId && Object.hasOwn(users, token.accountId)
        ? users[token.accountId]
        : undefined;
      return claims ? structuredClone(claims) : undefined;
    },
  });

  const idp: DevIdp = {
    issuer,
    discoveryUrl: `${issuer}/.well-known/openid-configuration`,
    jwksUri: `${issuer}/jwks`,
    devTokenEndpoint,
    users,
    mint,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      });
    },
    [Symbol.asyncDispose]() {
      return idp.close();
    },
  };
  return idp;
}
