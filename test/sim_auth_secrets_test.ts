/**
 * No token or secret in logs, errors, `/status` or `/metrics`: the simulator gateway with
 * AuthPolicies using `jwt` (a loopback issuer), `apiKey` Secrets, a wristband signing key, the
 * extension's `trustedHeadersKey` and URL elicitation is driven with allowed and denied requests
 * (malformed and forged tokens, wrong API keys, a JWKS outage, a CEL runtime error and an OPA
 * failure over the Authorization header, a user token the server refuses), every log line, every
 * error answer (status, headers, body), `/status` and `/metrics` are kept, and none may hold a
 * client token, an API key, the signing key's PEM, a user token, a wristband or a registration's
 * credential. The same holds for the CLI's `simulate` and `validate` over such files.
 */
import { generateKeyPairSync } from "node:crypto";
import { decodeProtectedHeader } from "jose";
import { stringify } from "yaml";
import { assert, assertEquals } from "./helpers/assert.ts";
import { makeKey, startIssuer } from "./helpers/jwks_issuer.ts";
import { requireOpa } from "./helpers/opa.ts";
import { elicitation, elicitingClient, enterToken, tokenServer, whoami } from "./helpers/elicitation.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { AUTH_FIXTURE_TOKEN, startFixture } from "./fixtures/mod.ts";
import { sharedCluster } from "./cluster/cluster.ts";
import { authPolicy, GATEWAY_NS, mcpExtension, mcpGateway, mcpServer } from "./helpers/auth_objects.ts";
import { MCP_HEADERS, waitFor } from "./sim_helpers.ts";
import { configFromObjects } from "../sim/config.ts";
import { startGateway } from "../sim/gateway.ts";
import type { Logger } from "../sim/options.ts";
import { AuthPolicyGate } from "../sim/auth/gate.ts";
import { policyTargetsFromObjects } from "../sim/auth/auth_policy.ts";
import { OpaPool } from "../sim/auth/opa.ts";
import type { SecretObject } from "../sim/auth/types.ts";

const MCP_NS = "mcp-system";
const NS = "mcp-test";
const AUTHORINO_NS = "kuadrant-system";

const ALICE_KEY = "sk-alice-VALID-0123456789abcdef";
const WRONG_KEY = "sk-WRONG-KEY-fedcba9876543210";
const BROKER_TOKEN = "Bearer broker-credential-SECRET-42";
const USER_TOKEN = "Bearer ghp_USERTOKEN_0123456789ABCDEF";
const SECOND_USER_TOKEN = "Bearer ghp_SECONDTOKEN_FEDCBA9876543210";
/** Tokens that are not JWTs at all, or JWTs no one signed. */
const MALFORMED = [
  "Bearer not-a-jwt-MALFORMED-SECRET-1",
  "Bearer aaaa.bbbb.cccc.dddd-MALFORMED-SECRET-2",
  // alg none, and a payload that is not JSON.
  `Bearer ${b64url('{"alg":"none"}')}.${b64url('{"sub":"NONE-SECRET-3"}')}.`,
  `Bearer ${b64url('{"alg":"RS256","kid":"k1"}')}.${b64url("not json SECRET-4")}.c2lnbmF0dXJl`,
];

function b64url(text: string): string {
  return btoa(text).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** The cluster objects and Secrets: extension with trustedHeadersKey, three servers, their routes. */
function clusterObjects(urls: { weather: string; auth: string; github: string }) {
  const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicPem = keys.publicKey.export({ format: "pem", type: "spki" }) as string;
  const privatePem = keys.privateKey.export({ format: "pem", type: "sec1" }) as string;
  const secret = (namespace: string, name: string, data: Record<string, string>, labels = {}) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { namespace, name, labels },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, btoa(v)])),
  });
  const objects = [
    mcpExtension({
      trustedHeadersKey: { secretName: "trusted-headers-public-key" },
      urlElicitation: "Enabled",
      oauthProtectedResource: { authorizationServers: ["http://127.0.0.1:1/realms/mcp"] },
    }),
    mcpGateway("127.0.0.1"),
    ...mcpServer(NS, "weather", "w_"),
    ...mcpServer(NS, "auth", "a_", { credentialRef: { name: "auth-credential" } }),
    ...mcpServer(NS, "github", "gh_", {
      credentialRef: { name: "github-credential" },
      tokenURLElicitation: {},
    }),
    secret(MCP_NS, "trusted-headers-public-key", { key: publicPem }),
    secret(NS, "auth-credential", { token: `Bearer ${AUTH_FIXTURE_TOKEN}` }, {
      "mcp.kuadrant.io/secret": "true",
    }),
    secret(NS, "github-credential", { token: BROKER_TOKEN }, { "mcp.kuadrant.io/secret": "true" }),
    secret(AUTHORINO_NS, "alice-key", { api_key: ALICE_KEY }, {
      group: "mcp-users",
      "authorino.kuadrant.io/managed-by": "authorino",
    }),
    secret(AUTHORINO_NS, "trusted-headers-private-key", { "key.pem": privatePem }),
  ];
  const config = configFromObjects(objects, {
    [`${NS}/weather`]: urls.weather,
    [`${NS}/auth`]: urls.auth,
    [`${NS}/github`]: urls.github,
  });
  const secrets: SecretObject[] = objects.filter((o) => o.kind === "Secret").map((o) => {
    const s = o as unknown as {
      metadata: { namespace: string; name: string; labels: Record<string, string> };
    };
    const data = (o as { data: Record<string, string> }).data;
    return {
      namespace: s.metadata.namespace,
      name: s.metadata.name,
      labels: s.metadata.labels,
      annotations: {},
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, atob(v)])),
    };
  });
  return { objects, config, secrets, privatePem };
}

const when = (header: string, value: string) => [{
  predicate: `request.headers.exists(h, h == '${header}') && request.headers['${header}'] == '${value}'`,
}];

/**
 * The gateway's policy: a JWT or an API key; a CEL rule and an OPA rule that fail on the
 * Authorization header when `x-crash` asks them to; the wristband on success. The auth server's
 * route takes API keys only.
 */
function policies(issuer: string) {
  const apiKey = {
    apiKey: { selector: { matchLabels: { group: "mcp-users" } } },
    credentials: { authorizationHeader: { prefix: "APIKEY" } },
  };
  const gateway = authPolicy(GATEWAY_NS, "gateway-auth", { kind: "Gateway", name: "mcp-gateway" }, {
    when: [{ predicate: "!request.path.startsWith('/.well-known')" }],
    rules: {
      authentication: { oidc: { jwt: { issuerUrl: issuer } }, "api-key": apiKey },
      authorization: {
        "cel-crash": {
          when: when("x-crash", "cel"),
          patternMatching: { patterns: [{ predicate: "int(request.headers.authorization) > 0" }] },
        },
        "opa-crash": {
          when: when("x-crash", "opa"),
          opa: {
            rego: 'allow = x { x := input.request.headers.authorization }\nallow = y { y := concat("", ' +
              '[input.request.headers.authorization, "!"]) }',
          },
        },
      },
      response: {
        unauthenticated: {
          headers: {
            "WWW-Authenticate": { value: "Bearer resource_metadata=http://127.0.0.1/.well-known" },
          },
        },
        success: {
          headers: {
            "x-mcp-authorized": {
              wristband: {
                issuer: "https://authorino.kuadrant-system/wristband",
                customClaims: {
                  "allowed-capabilities": {
                    value: JSON.stringify({
                      tools: { [`${NS}/weather`]: ["get_forecast"], [`${NS}/github`]: ["whoami"] },
                    }),
                  },
                },
                signingKeyRefs: [{ name: "trusted-headers-private-key", algorithm: "ES256" }],
              },
            },
          },
        },
      },
    },
  });
  const authRoute = authPolicy(NS, "auth-route-keys", { kind: "HTTPRoute", name: "auth-route" }, {
    rules: { authentication: { "api-key": apiKey } },
  });
  return [gateway, authRoute];
}

/** What a run saw: every log line and every answer that is not a successful result. */
interface Seen {
  logs: string[];
  answers: string[];
}

/** Every place a secret may not be: `where` for the message, `text` to search. */
function assertNoSecrets(seen: Seen, secrets: string[], what: string): void {
  const texts = [
    ...seen.logs.map((text) => ({ where: "log", text })),
    ...seen.answers.map((text) => ({ where: "answer", text })),
  ];
  for (const { where, text } of texts) {
    for (const secret of secrets) {
      assert(
        !text.includes(secret),
        `${what}: a ${where} shows the secret ${JSON.stringify(secret)}:\n${text}`,
      );
    }
    // Any JWT other than the gateway's own HS256 session ids: a client token or a wristband.
    for (const jwt of text.match(/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g) ?? []) {
      let alg = "";
      try {
        alg = String(decodeProtectedHeader(jwt).alg);
      } catch {
        // not a JWT after all
      }
      assert(alg === "" || alg === "HS256", `${what}: a ${where} shows a ${alg} JWT:\n${text}`);
    }
  }
}

/** The parts of a secret worth searching for: the whole, its start, a token's payload and signature, PEM lines. */
function secretParts(values: string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    out.add(value);
    const token = value.replace(/^(Bearer|APIKEY) /, "");
    out.add(token);
    // A message may hold only the start of a long value (OPA shortens strings with `...`).
    if (token.length > 32) out.add(token.slice(0, 24));
    const parts = token.split(".");
    if (parts.length === 3) {
      if (parts[1].length > 8) out.add(parts[1]);
      if (parts[2].length > 8) out.add(parts[2]);
    }
    for (const line of value.split("\n")) {
      if (line.length > 16 && !line.startsWith("-----")) out.add(line);
    }
  }
  return [...out];
}

async function scenario(passthrough: boolean) {
  await using issuer = await startIssuer();
  const weather = await startFixture("weather");
  const authServer = await startFixture("auth");
  const accepted = new Set([BROKER_TOKEN]);
  await using github = await tokenServer(accepted);
  const { objects, config, secrets, privatePem } = clusterObjects({
    weather: weather.url,
    auth: authServer.url,
    github: github.url,
  });
  const seen: Seen = { logs: [], answers: [] };
  const logger: Logger = (level, msg, fields) =>
    seen.logs.push(`${level} ${msg}${fields ? ` ${JSON.stringify(fields)}` : ""}`);
  const opa = new OpaPool({ opaPath: requireOpa() });
  const gate = new AuthPolicyGate({
    policies: policies(issuer.url),
    targets: policyTargetsFromObjects(objects, { tokens: true }),
    context: { secrets: { list: () => secrets }, unsupportedRules: "deny", opa, log: logger },
    log: logger,
  });
  assertEquals(gate.summary.problems, []);
  assertEquals(gate.summary.unsupported, []);
  const gw = await startGateway(config, { policy: gate, logger, toolCallPassthrough: passthrough });
  try {
    const url = gw.url;
    const origin = new URL(url).origin;
    const alice = await issuer.sign({ sub: "alice" });
    const expired = await issuer.sign({ sub: "alice", exp: Math.floor(Date.now() / 1000) - 3600 });
    const foreign = await issuer.sign({ sub: "mallory" }, { key: await makeKey("k1") });
    const rotated = await makeKey("k2");
    const unknownKid = await issuer.sign({ sub: "alice" }, { key: rotated });
    const [head, payload, signature] = alice.split(".");
    const tampered = `${head}.${b64url('{"sub":"root","iss":"x"}')}.${signature}`;
    const truncated = `${head}.${payload}`;

    /** Posts `body`; the answer is kept unless it is a result the test reads itself. */
    const send = async (body: unknown, headers: Record<string, string>, keep = true) => {
      const res = await fetch(url, {
        method: "POST",
        headers: { ...MCP_HEADERS, ...headers },
        body: JSON.stringify(body),
      });
      const text = await res.text();
      if (keep || res.status >= 400 || text.includes('"error"')) {
        seen.answers.push(`${res.status} ${JSON.stringify([...res.headers])}\n${text}`);
      }
      return { status: res.status, headers: res.headers, text };
    };
    const initialize = (headers: Record<string, string>) =>
      send({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }, headers);
    const open = async (authorization: string) => {
      const res = await initialize({ authorization });
      assertEquals(res.status, 200, res.text);
      const headers = {
        authorization,
        "mcp-session-id": res.headers.get("mcp-session-id")!,
        "mcp-protocol-version": "2025-11-25",
      };
      assertEquals(
        (await send({ jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status,
        202,
      );
      return headers;
    };
    const call = (id: number, name: string, args: Record<string, unknown> = {}) => ({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name, arguments: args },
    });

    // Denied: no token, malformed, forged, expired, unknown kid, tampered, truncated, wrong keys.
    assertEquals((await initialize({})).status, 401);
    for (
      const bad of [...MALFORMED, expired, foreign, tampered, truncated].map((t) =>
        t.startsWith("Bearer ") ? t : `Bearer ${t}`
      )
    ) {
      assertEquals((await initialize({ authorization: bad })).status, 401, bad);
    }
    assertEquals((await initialize({ authorization: `APIKEY ${WRONG_KEY}` })).status, 401);
    // A kid the key set lacks while the JWKS endpoint is down: 401, never an allow.
    issuer.faults.jwks = "down";
    assertEquals((await initialize({ authorization: `Bearer ${unknownKid}` })).status, 401);
    issuer.faults.jwks = undefined;

    // Allowed: a JWT session lists and calls; an API key session too.
    const jwtSession = await open(`Bearer ${alice}`);
    const list = await send({ jsonrpc: "2.0", id: 1, method: "tools/list" }, jwtSession, false);
    assertEquals(list.status, 200);
    assert(list.text.includes("w_get_forecast") && !list.text.includes("w_search"), "the wristband filters");
    assertEquals(
      (await send(call(2, "w_get_forecast", { city: "Oslo" }), jwtSession, false)).status,
      200,
    );
    const keySession = await open(`APIKEY ${ALICE_KEY}`);
    const mine = await send(call(3, "a_whoami"), keySession, false);
    assertEquals(mine.status, 200, mine.text);
    // The auth route takes API keys only; a wrong key on a session is refused there too.
    assertEquals((await send(call(4, "a_whoami"), jwtSession)).status, 401);
    assertEquals(
      (await send(call(5, "a_whoami"), { ...keySession, authorization: `APIKEY ${WRONG_KEY}` })).status,
      401,
    );

    // A CEL runtime error and an OPA failure, both over the Authorization header: 403.
    for (const crash of ["cel", "opa"]) {
      for (const session of [jwtSession, keySession]) {
        const res = await send(call(6, "w_get_forecast", { city: "Oslo" }), { ...session, "x-crash": crash });
        assertEquals(res.status, 403, `${crash}: ${res.text}\n${seen.logs.join("\n")}`);
        const list = await send({ jsonrpc: "2.0", id: 7, method: "tools/list" }, {
          ...session,
          "x-crash": crash,
        });
        assertEquals(list.status, 403, `${crash}: ${list.text}`);
      }
    }

    // URL elicitation: the user's token is asked for, entered on the page behind the policy, used,
    // refused by the server (forgotten, asked for again) and replaced.
    {
      await using c = await elicitingClient(url, alice);
      const first = await elicitation(c.client);
      const noToken = await fetch(first.url);
      seen.answers.push(`${noToken.status}\n${await noToken.text()}`);
      assertEquals(noToken.status, 401);
      assertEquals((await enterToken(origin, first.url, USER_TOKEN, alice)).status, 200);
      accepted.add(USER_TOKEN);
      assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), USER_TOKEN);
      accepted.delete(USER_TOKEN);
      const refused = await c.client.callTool({ name: "gh_whoami", arguments: {} }).catch((e) => e);
      seen.answers.push(String(refused instanceof Error ? refused.message : JSON.stringify(refused)));
      const again = await elicitation(c.client);
      assertEquals((await enterToken(origin, again.url, SECOND_USER_TOKEN, alice)).status, 200);
      accepted.add(SECOND_USER_TOKEN);
      assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), SECOND_USER_TOKEN);
    }

    for (const path of ["/status", "/metrics", "/.well-known/oauth-protected-resource/mcp"]) {
      const res = await fetch(new URL(path, url));
      seen.answers.push(`${path} ${res.status}\n${await res.text()}`);
    }
    // Log lines may come after the answers (closing streams): give them a moment.
    await waitFor(() => seen.logs.length > 0, 2000, "log lines");

    const secretValues = secretParts([
      alice,
      expired,
      foreign,
      unknownKid,
      tampered,
      ...MALFORMED,
      ALICE_KEY,
      WRONG_KEY,
      BROKER_TOKEN,
      USER_TOKEN,
      SECOND_USER_TOKEN,
      privatePem,
    ]);
    assertNoSecrets(seen, secretValues, passthrough ? "pass-through" : "SDK path");
    return seen;
  } finally {
    await gw.close();
    await gate.close();
    await Promise.all([weather.close(), authServer.close(), opa.close()]);
  }
}

Deno.test("no token or secret in the gateway's logs, error answers, /status or /metrics (pass-through)", async () => {
  const seen = await scenario(true);
  // The run did log and answer: a test that saw nothing would prove nothing.
  assert(seen.logs.some((l) => l.includes("AuthPolicy denied")), seen.logs.join("\n"));
  assert(seen.answers.length > 20);
});

Deno.test("no token or secret in the gateway's logs, error answers, /status or /metrics (SDK path)", async () => {
  await scenario(false);
});

/** The files of a simulate run: the same kinds of objects as YAML. */
function manifests(dir: string, urls: { weather: string; auth: string; github: string }, issuer: string) {
  const { objects } = clusterObjects(urls);
  const text = [...objects, ...policies(issuer)].map((o) => stringify(o)).join("---\n");
  Deno.writeTextFileSync(`${dir}/objects.yaml`, text);
  return objects;
}

Deno.test("no token or secret in simulate's and validate's output over files with AuthPolicies and Secrets", async () => {
  await using issuer = await startIssuer();
  const weather = await startFixture("weather");
  const authServer = await startFixture("auth");
  await using github = await tokenServer(new Set([BROKER_TOKEN]));
  const dir = Deno.makeTempDirSync({ prefix: "sim-auth-secrets-" });
  try {
    const urls = { weather: weather.url, auth: authServer.url, github: github.url };
    const objects = manifests(dir, urls, issuer.url);
    const pem = objects.find((o) => o.metadata.name === "trusted-headers-private-key") as {
      data: Record<string, string>;
    };
    const secretValues = secretParts([ALICE_KEY, WRONG_KEY, BROKER_TOKEN, atob(pem.data["key.pem"])]);
    const check = (text: string, what: string) =>
      assertNoSecrets({ logs: [text], answers: [] }, secretValues, what);

    const validate = await runCli(["validate", "-f", `${dir}/objects.yaml`]);
    check(validate.stdout + validate.stderr, "validate");

    const upstreams = [
      `${NS}/weather=${weather.url}`,
      `${NS}/auth=${authServer.url}`,
      `${NS}/github=${github.url}`,
    ]
      .flatMap((u) => ["--upstream", u]);
    await using sim = spawnCli([
      "simulate",
      "-f",
      `${dir}/objects.yaml`,
      "--port",
      "0",
      "--opa",
      requireOpa(),
      ...upstreams,
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 30_000);
    const alice = await issuer.sign({ sub: "alice" });
    secretValues.push(...secretParts([alice, ...MALFORMED]));
    const statuses: number[] = [];
    for (
      const authorization of [`APIKEY ${WRONG_KEY}`, `APIKEY ${ALICE_KEY}`, `Bearer ${alice}`, ...MALFORMED]
    ) {
      for (const crash of ["cel", "opa"]) {
        const res = await fetch(url, {
          method: "POST",
          headers: { ...MCP_HEADERS, authorization, "x-crash": crash },
          body: JSON.stringify({
            jsonrpc: "2.0",
            id: 0,
            method: "initialize",
            params: {
              protocolVersion: "2025-11-25",
              capabilities: {},
              clientInfo: { name: "t", version: "1" },
            },
          }),
        });
        statuses.push(res.status);
        check(`${JSON.stringify([...res.headers])}\n${await res.text()}`, "simulate's answer");
      }
    }
    // The policy applied: wrong keys and malformed tokens 401, the CEL and OPA failures 403.
    assertEquals(
      statuses,
      [401, 401, 403, 403, 403, 403, ...MALFORMED.flatMap(() => [401, 401])],
      sim.stdout + sim.stderr,
    );
    for (const path of ["/status", "/metrics"]) {
      const res = await fetch(new URL(path, url));
      check(await res.text(), `simulate's ${path}`);
    }
    assertEquals(await sim.interrupt(), 130);
    check(sim.stdout + sim.stderr, "simulate's output");
  } finally {
    await Promise.all([weather.close(), authServer.close()]);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("no Secret value in apply's -o yaml and -o json, also from kubectl's last-applied record", async () => {
  const cluster = await sharedCluster();
  const env = { KUBECONFIG: cluster.adminKubeconfig };
  const ns = `secret-out-${crypto.randomUUID().slice(0, 8)}`;
  const { privatePem } = clusterObjects({
    weather: "http://127.0.0.1:1",
    auth: "http://127.0.0.1:1",
    github: "http://127.0.0.1:1",
  });
  const route = policies("http://127.0.0.1:1/realms/test")[1];
  const secrets = (extra = "") =>
    [
      stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }),
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: ns, name: "alice-key", labels: { group: "mcp-users" } },
        stringData: { api_key: ALICE_KEY + extra },
      }),
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { namespace: ns, name: "trusted-headers-private-key" },
        data: { "key.pem": btoa(privatePem) },
      }),
      stringify({ ...route, metadata: { ...route.metadata, namespace: ns } }),
    ].join("---\n");
  // kubectl's client-side apply leaves the whole Secret, values in clear, in an annotation.
  await cluster.apply(secrets("-old"));
  const dir = Deno.makeTempDirSync({ prefix: "secret-out-" });
  try {
    Deno.writeTextFileSync(`${dir}/objects.yaml`, secrets());
    const values = secretParts([ALICE_KEY, `${ALICE_KEY}-old`, privatePem]);
    const encoded = [btoa(ALICE_KEY), btoa(`${ALICE_KEY}-old`), btoa(privatePem).slice(0, 40)];
    for (const args of [["--dry-run=server", "-o", "yaml"], ["-o", "json"], ["-o", "yaml"]]) {
      const out = await runCli(["apply", "-f", `${dir}/objects.yaml`, "-n", ns, ...args], { env });
      assertEquals(out.code, 0, out.stderr);
      assertNoSecrets(
        { logs: [out.stdout + out.stderr], answers: [] },
        [...values, ...encoded],
        `apply ${args.join(" ")}`,
      );
      assert(out.stdout.includes("alice-key") && out.stdout.includes("<redacted>"), out.stdout);
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
