/**
 * `kubectl mcp simulate --dev-idp` through the real binary: the demo's AuthPolicy (upstream's
 * authorization guide plus a wristband) replayed from files with its Keycloak issuer served by the
 * dev identity provider; the MCP SDK client's own OAuth flow (401 -> metadata -> discovery ->
 * registration -> code + PKCE with the login page driven over HTTP -> token) lists exactly the
 * logged-in user's tools; `kubectl mcp token --user` gives curl a token the gateway accepts.
 */
import { decodeJwt } from "jose";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./helpers/assert.ts";
import { REPO_ROOT, runCli, spawnCli } from "./helpers/cli.ts";
import { loginOverHttp } from "./helpers/idp_login.ts";
import { LoginOAuthClient, oauthConnect } from "./helpers/oauth_client.ts";
import { startFixture } from "./fixtures/mod.ts";

const KEYCLOAK = "https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp";

const USERS = `
# alice plans trips, bob fixes bugs, carol has no roles.
alice:
  groups: [travel]
  resource_access:
    mcp-demo/weather:
      roles: ["tool:get_forecast", "tool:search"]
bob:
  groups: [engineering]
  resource_access:
    mcp-demo/github:
      roles: ["tool:search", "tool:get_issue"]
carol: {}
`;

const INITIALIZE = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "curl", version: "1" } },
});

/** The simulator with the demo's gateway, two servers and AuthPolicy, and the users above. */
async function startSimulator() {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-dev-idp-" });
  for (const file of ["gateway.yaml", "weather.yaml", "github.yaml", "auth-policy.yaml"]) {
    await Deno.copyFile(`${REPO_ROOT}/examples/${file}`, `${dir}/${file}`);
  }
  const usersFile = `${await Deno.makeTempDir({ prefix: "kubectl-mcp-users-" })}/users.yaml`;
  await Deno.writeTextFile(usersFile, USERS);
  const weather = await startFixture("weather");
  const github = await startFixture("github");
  const sim = spawnCli([
    "simulate",
    "-f",
    dir,
    "--upstream",
    `mcp-demo/weather=${weather.url}`,
    "--upstream",
    `mcp-demo/github=${github.url}`,
    "--port",
    "0",
    "--dev-idp",
    "--users",
    usersFile,
  ]);
  let url: string;
  try {
    [, url] = await sim.waitFor(/MCP gateway listening on (http:\/\/\S+\/mcp)/, 90_000);
  } catch (error) {
    await sim[Symbol.asyncDispose]();
    await Promise.all([weather.close(), github.close()]);
    throw error;
  }
  return {
    sim,
    url,
    usersFile,
    async [Symbol.asyncDispose]() {
      await sim[Symbol.asyncDispose]();
      await Promise.all([weather.close(), github.close()]);
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(usersFile.replace(/\/users\.yaml$/, ""), { recursive: true });
    },
  };
}

/** The SDK's OAuth client whose "browser" logs in over HTTP as `user`, noting the users the page listed. */
class HttpLoginOAuthClient extends LoginOAuthClient {
  listed: string[] = [];
  constructor(readonly user: string) {
    super(async (url) => {
      const login = await loginOverHttp(url, user);
      this.listed = login.listed;
      return login.callback;
    }, "dev-idp-test");
  }
}

const names = (items: { name: string }[]) => items.map((t) => t.name).sort();

Deno.test("simulate --dev-idp: the SDK client logs in with code + PKCE through the gateway's 401 and lists its user's tools", async () => {
  await using s = await startSimulator();
  const issuer = /dev identity provider: (http:\/\/127\.0\.0\.1:\d+)/.exec(s.sim.stdout)?.[1];
  assert(issuer, s.sim.stdout);
  // The start-up output says which issuer it replaced, and lists the users.
  assertStringIncludes(
    s.sim.stdout,
    `the issuer ${KEYCLOAK} (gateway-system/mcp-auth) is replaced by the dev identity provider ${issuer}`,
  );
  assert(/^ {4}carol\s+no claims$/m.test(s.sim.stdout), s.sim.stdout);

  // Unauthenticated: the policy's 401, its resource_metadata pointing at this gateway's metadata.
  const res = await fetch(s.url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: INITIALIZE,
  });
  assertEquals(res.status, 401);
  await res.body?.cancel();
  const origin = new URL(s.url).origin;
  assertEquals(
    res.headers.get("www-authenticate"),
    `Bearer resource_metadata=${origin}/.well-known/oauth-protected-resource/mcp`,
  );
  const metadata = await (await fetch(`${origin}/.well-known/oauth-protected-resource/mcp`)).json();
  assertEquals([metadata.resource, metadata.authorization_servers], [s.url, [issuer]]);

  const alice = new HttpLoginOAuthClient("alice");
  {
    await using c = await oauthConnect(s.url, alice);
    assertEquals(alice.listed, ["alice", "bob", "carol"]);
    const [authorization] = alice.authorizationUrls;
    assertEquals(authorization.origin, issuer);
    assertEquals(authorization.searchParams.get("code_challenge_method"), "S256");
    assertEquals(authorization.searchParams.get("resource"), s.url);
    const token = decodeJwt((await alice.tokens())!.access_token);
    assertEquals([token.iss, token.sub, token.aud], [issuer, "alice", s.url]);
    assertEquals(names((await c.client.listTools()).tools), ["weather_get_forecast", "weather_search"]);
    const ok = await c.client.callTool({ name: "weather_search", arguments: { query: "rain" } });
    assert(!ok.isError, JSON.stringify(ok));
    const err = await assertRejects(() =>
      c.client.callTool({ name: "github_search", arguments: { query: "x" } })
    );
    assertEquals((err as { code?: number }).code, 403);
  }
  {
    await using c = await oauthConnect(s.url, new HttpLoginOAuthClient("bob"));
    assertEquals(names((await c.client.listTools()).tools), ["github_get_issue", "github_search"]);
  }
  {
    await using c = await oauthConnect(s.url, new HttpLoginOAuthClient("carol"));
    assertEquals((await c.client.listTools()).tools, []);
  }
  // No token was printed.
  assert(!/eyJ[\w-]+\.eyJ/.test(s.sim.stdout + s.sim.stderr), "no token in the simulator's output");
});

Deno.test("kubectl mcp token --user: a token from the running simulator's dev identity provider that curl can use", async () => {
  await using s = await startSimulator();
  const got = await runCli(["token", "--user", "bob", "--gateway", s.url]);
  assertEquals(got.code, 0, got.stderr);
  const token = got.stdout.trim();
  assertEquals(got.stdout, `${token}\n`);
  const claims = decodeJwt(token);
  assertEquals([claims.sub, claims.aud], ["bob", s.url]);
  assertEquals(claims.resource_access, { "mcp-demo/github": { roles: ["tool:search", "tool:get_issue"] } });

  // As curl: initialize with the token, then tools/list in the session.
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${token}`,
  };
  const init = await fetch(s.url, { method: "POST", headers, body: INITIALIZE });
  assertEquals(init.status, 200);
  await init.body?.cancel();
  const session = init.headers.get("mcp-session-id")!;
  const list = await fetch(s.url, {
    method: "POST",
    headers: { ...headers, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 2, method: "tools/list" }),
  });
  const text = await list.text();
  const json = JSON.parse(/^data: (.*)$/m.exec(text)?.[1] ?? text);
  assertEquals(names(json.result.tools), ["github_get_issue", "github_search"]);

  // --claims: any identity, signed by the provider.
  const claimsFile = `${s.usersFile.replace(/users\.yaml$/, "")}claims.yaml`;
  await Deno.writeTextFile(
    claimsFile,
    "sub: dave\nresource_access:\n  mcp-demo/weather:\n    roles: [tool:search]\n",
  );
  const what = await runCli(["token", "--claims", claimsFile, "--gateway", s.url, "-o", "json"]);
  assertEquals(what.code, 0, what.stderr);
  const doc = JSON.parse(what.stdout);
  assertEquals([decodeJwt(doc.accessToken).sub, doc.audience, doc.tokenType], ["dave", s.url, "Bearer"]);

  // An unknown user: the error names the users, and no token.
  const unknown = await runCli(["token", "--user", "mallory", "--gateway", s.url]);
  assertEquals(unknown.code, 1);
  assertStringIncludes(unknown.stderr, 'no user "mallory"; the users are alice, bob, carol');
  assertEquals(unknown.stdout, "");
  // Neither or both: usage.
  assertEquals((await runCli(["token", "--gateway", s.url])).code, 2);
});

Deno.test("kubectl mcp token: a gateway without a dev identity provider, or nothing listening, is a clear error", async () => {
  const weather = await startFixture("weather");
  try {
    const notGateway = await runCli(["token", "--user", "alice", "--gateway", weather.url]);
    assertEquals(notGateway.code, 1);
    assertStringIncludes(notGateway.stderr, "serves no protected-resource metadata");
  } finally {
    await weather.close();
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const nothing = await runCli(["token", "--user", "alice", "--gateway", `http://127.0.0.1:${port}/mcp`]);
  assertEquals(nothing.code, 1);
  assertStringIncludes(
    nothing.stderr,
    `cannot reach the gateway's protected-resource metadata at http://127.0.0.1:${port}`,
  );
});

Deno.test("simulate --users: a bad file is refused before anything starts, naming the file and the field", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-users-" });
  try {
    const cases: [string, string][] = [
      ["alice:\n  sub: someone\n", `${dir}/users.yaml: alice.sub: the identity provider sets "sub" itself`],
      ["alice: [a, b]\n", `${dir}/users.yaml: alice: the claims must be a mapping, got a list`],
      ["- alice\n", `${dir}/users.yaml: expected a mapping of user names to their claims, got a list`],
      ["alice: {\n", `${dir}/users.yaml: not valid YAML or JSON`],
      ['{"al ice": {}}', `${dir}/users.yaml: invalid user name "al ice"`],
    ];
    for (const [text, message] of cases) {
      await Deno.writeTextFile(`${dir}/users.yaml`, text);
      const run = await runCli([
        "simulate",
        "-f",
        `${REPO_ROOT}/examples/gateway.yaml`,
        "--port",
        "0",
        "--dev-idp",
        "--users",
        `${dir}/users.yaml`,
      ]);
      assertEquals(run.code, 1, text);
      assertStringIncludes(run.stderr, message);
    }
    const missing = await runCli([
      "simulate",
      "-f",
      `${REPO_ROOT}/examples/gateway.yaml`,
      "--users",
      "x.yaml",
    ]);
    assertEquals(missing.code, 2);
    assertStringIncludes(missing.stderr, "--users needs --dev-idp");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
