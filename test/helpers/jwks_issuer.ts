/**
 * A minimal OIDC issuer for tests: a real HTTP server on 127.0.0.1 serving the discovery document
 * and the JSON Web Key Set of keys made with jose, counting every hit, with switches to take either
 * endpoint down, slow it or answer something hostile. `sign` mints tokens with the issuer's keys.
 *
 * @module
 */

import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";

/** A signing key of the issuer. */
export interface IssuerKey {
  /** The key id in the JWKS and in tokens' headers. */
  kid: string;
  /** The algorithm. */
  alg: string;
  /** The private key (signs). */
  privateKey: CryptoKey;
  /** The public JWK (served). */
  jwk: JWK;
}

/** Makes an extractable key pair with `kid`. */
export async function makeKey(kid: string, alg = "RS256"): Promise<IssuerKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey: privateKey as CryptoKey, jwk }; // jose types CryptoKey as node:crypto's where @types/node is in the graph
}

/** What an endpoint does instead of answering normally. */
export type Fault = "down" | "hang" | "huge" | "redirect-away" | "redirect-here" | undefined;

/** A running test issuer. */
export interface TestIssuer extends AsyncDisposable {
  /** The issuer URL (`http://127.0.0.1:<port>/realms/test`). */
  url: string;
  /** Keys served in the JWKS (mutable: rotate by changing it). */
  keys: IssuerKey[];
  /** Hits per path: `discovery`, `jwks`. */
  hits: { discovery: number; jwks: number };
  /** Faults per endpoint (mutable). */
  faults: { discovery?: Fault; jwks?: Fault };
  /** What the discovery document says (mutable): `issuer`, algorithms. */
  doc: { issuer?: string; algs?: string[] };
  /** Signs `claims` (defaults: iss = url, sub, iat, exp in an hour) with `key` (default keys[0]). */
  sign(claims?: JWTPayload, options?: { key?: IssuerKey; kid?: string | null }): Promise<string>;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Starts a test issuer with `keys` (default: one RS256 key `k1`). */
export async function startIssuer(keys?: IssuerKey[]): Promise<TestIssuer> {
  const state = {
    keys: keys ?? [await makeKey("k1")],
    hits: { discovery: 0, jwks: 0 },
    faults: {} as { discovery?: Fault; jwks?: Fault },
    doc: {} as { issuer?: string; algs?: string[] },
  };
  const hanging = new Set<() => void>();
  let url = "";
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (req): Promise<Response> => {
      const path = new URL(req.url).pathname;
      const which = path.endsWith("/.well-known/openid-configuration")
        ? "discovery"
        : path.endsWith("/certs")
        ? "jwks"
        : undefined;
      if (!which) return new Response("not found", { status: 404 });
      state.hits[which]++;
      const fault = state.faults[which];
      if (fault === "down") return new Response("unavailable", { status: 503 });
      if (fault === "hang") {
        await new Promise<void>((resolve) => {
          hanging.add(resolve);
          req.signal.addEventListener("abort", () => resolve());
        });
        return new Response("late");
      }
      if (fault === "huge") return new Response(`{"keys":[${"0,".repeat(400_000)}0]}`);
      if (fault === "redirect-away") {
        return new Response(null, { status: 302, headers: { location: "http://127.0.0.2:9/certs" } });
      }
      if (fault === "redirect-here" && !path.startsWith("/moved")) {
        return new Response(null, { status: 307, headers: { location: `/moved${path}` } });
      }
      if (which === "discovery") {
        return Response.json({
          issuer: state.doc.issuer ?? url,
          jwks_uri: `${url}/protocol/openid-connect/certs`,
          id_token_signing_alg_values_supported: state.doc.algs ?? ["RS256"],
        });
      }
      return Response.json({ keys: state.keys.map((k) => k.jwk) });
    },
  );
  url = `http://127.0.0.1:${server.addr.port}/realms/test`;
  const issuer: TestIssuer = {
    url,
    get keys() {
      return state.keys;
    },
    set keys(keys: IssuerKey[]) {
      state.keys = keys;
    },
    hits: state.hits,
    faults: state.faults,
    doc: state.doc,
    async sign(claims = {}, options = {}) {
      const key = options.key ?? state.keys[0];
      const now = Math.floor(Date.now() / 1000);
      const header: { alg: string; kid?: string } = { alg: key.alg };
      if (options.kid !== null) header.kid = options.kid ?? key.kid;
      return await new SignJWT({ iss: url, sub: "alice", iat: now, exp: now + 3600, ...claims })
        .setProtectedHeader(header)
        .sign(key.privateKey);
    },
    async close() {
      for (const resolve of hanging) resolve();
      await server.shutdown();
    },
    [Symbol.asyncDispose]() {
      return this.close();
    },
  };
  return issuer;
}
