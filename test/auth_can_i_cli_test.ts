/**
 * `kubectl mcp auth can-i` and `tools` as an identity, through the real binary, against what the
 * simulator does: upstream's user-based-tool-filter and authorization guides' AuthPolicies as
 * written (issuer and public host swapped for loopback ones), real tokens from a loopback issuer,
 * the real opa binary for the guide's rego, two real MCP servers and two virtual servers. For every
 * identity, tool and virtual server, can-i's answer and an actual call through `simulate` agree;
 * `--claims` (what-if) answers as a real token with the same claims; `tools --token` lists what the
 * wristband keeps; `tools --explain` says auth-denied and wristband-filter.
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { generateKeyPairSync } from "node:crypto";
import { parse, stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { AUTHORIZATION_GUIDE, TOOL_FILTER_GUIDE } from "./helpers/auth_guides.ts";
import { GATEWAY_NS as GW_NS, mcpExtension, mcpGateway, mcpServer } from "./helpers/auth_objects.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { requireOpa } from "./helpers/opa.ts";
import { startIssuer } from "./helpers/jwks_issuer.ts";
import { startFixture } from "./fixtures/mod.ts";

const MCP_NS = "mcp-system";
const NS = "mcp-test";

/** The identities: roles per server as the guides' Keycloak realm gives them. */
const CLAIMS: Record<string, Record<string, unknown>> = {
  alice: {
    sub: "alice",
    resource_access: {
      [`${NS}/weather`]: { roles: ["tool:search", "tool:get_forecast"] },
      [`${NS}/github`]: { roles: ["tool:search"] },
    },
  },
  bob: {
    sub: "bob",
    resource_access: {
      [`${NS}/github`]: { roles: ["tool:get_issue", "tool:create_issue", "tool:delete_issue"] },
    },
  },
  carol: { sub: "carol" },
};

/** Each tool with arguments that make its call succeed. */
const TOOLS: Record<string, Record<string, unknown>> = {
  weather_get_forecast: { city: "Paris" },
  weather_search: { query: "par" },
  github_search: { query: "bug" },
  github_get_issue: { number: 1 },
  github_create_issue: { title: "from the matrix" },
  github_delete_issue: { number: 999 },
};

const VIRTUAL_SERVERS: Record<string, string[]> = {
  [`${NS}/search-only`]: ["weather_search", "github_search", "github_get_issue"],
  [`${NS}/issues`]: [
    "github_get_issue",
    "github_create_issue",
    "github_delete_issue",
    "weather_get_forecast",
  ],
};

/** A guide's policy as written, its identity provider swapped for `issuer`. */
function asWritten(yaml: string, issuer: string): unknown {
  return parse(yaml.replaceAll(/https?:\/\/keycloak[^\s/]*\/realms\/mcp/g, issuer));
}

/** The guides' cluster objects: extension with trusted headers key, Gateway, routes, registrations, virtual servers. */
function objects(issuer: string): unknown[] {
  const keys = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const publicPem = keys.publicKey.export({ format: "pem", type: "spki" }) as string;
  const privatePem = keys.privateKey.export({ format: "pem", type: "sec1" }) as string;
  // As the guides set it up: the broker's listener `mcp`, the servers' `mcps` the authorization guide targets.
  const gateway = mcpGateway("127.0.0.1");
  gateway.spec.listeners.push({ name: "mcps", hostname: "*.mcp.local", port: 8080, protocol: "HTTP" });
  return [
    mcpExtension({ trustedHeadersKey: { secretName: "trusted-headers-public-key" } }),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: MCP_NS, name: "trusted-headers-public-key" },
      stringData: { key: publicPem },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { namespace: "kuadrant-system", name: "trusted-headers-private-key" },
      stringData: { "key.pem": privatePem },
    },
    gateway,
    ...mcpServer(NS, "weather", "weather_"),
    ...mcpServer(NS, "github", "github_"),
    ...Object.entries(VIRTUAL_SERVERS).map(([key, tools]) => ({
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPVirtualServer",
      metadata: { namespace: NS, name: key.split("/")[1] },
      spec: { tools },
    })),
    asWritten(TOOL_FILTER_GUIDE, issuer),
    asWritten(AUTHORIZATION_GUIDE, issuer),
  ];
}

/** The issuer, the servers, the manifests and the flags every command of the test takes. */
async function setup() {
  const issuer = await startIssuer();
  const weather = await startFixture("weather");
  const github = await startFixture("github");
  const dir = await Deno.makeTempDir({ prefix: "auth_can_i_cli_test_" });
  await Deno.writeTextFile(`${dir}/objects.yaml`, objects(issuer.url).map((o) => stringify(o)).join("---\n"));
  const flags = [
    "-f",
    dir,
    "--upstream",
    `${NS}/weather=${weather.url}`,
    "--upstream",
    `${NS}/github=${github.url}`,
    "--opa",
    requireOpa(),
    "--enforce-virtual-servers",
  ];
  const tokens: Record<string, string> = {};
  for (const [name, claims] of Object.entries(CLAIMS)) tokens[name] = await issuer.sign(claims);
  return {
    issuer,
    dir,
    flags,
    tokens,
    async [Symbol.asyncDispose]() {
      await Promise.all([issuer.close(), weather.close(), github.close()]);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Calls `tool` through the gateway at `url` as `token` via `virtualServer`: whether it went through, and why not. */
async function callThrough(
  url: string,
  token: string | undefined,
  virtualServer: string,
  tool: string,
): Promise<{ ok: boolean; why?: string }> {
  const headers: Record<string, string> = { "x-mcp-virtualserver": virtualServer };
  if (token) headers.authorization = `Bearer ${token}`;
  const client = new Client({ name: "matrix", version: "1" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } });
  try {
    await client.connect(transport);
  } catch (error) {
    return { ok: false, why: `connect: ${(error as Error).message}` };
  }
  try {
    const result = await client.callTool({ name: tool, arguments: TOOLS[tool] });
    return result.isError ? { ok: false, why: JSON.stringify(result) } : { ok: true };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  } finally {
    await transport.terminateSession().catch(() => {});
    await client.close();
  }
}

/** Runs `f` over `items` with at most `limit` at once. */
async function pool<T, R>(items: T[], limit: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]);
    }
  }));
  return out;
}

Deno.test("auth can-i agrees with the gateway: 4 identities x 6 tools x 2 virtual servers, answer and actual call", async () => {
  await using s = await setup();
  await using sim = spawnCli(["simulate", "--port", "0", ...s.flags]);
  const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);
  const identities: [string, string | undefined][] = [
    ["alice", s.tokens.alice],
    ["bob", s.tokens.bob],
    ["carol", s.tokens.carol],
    ["anonymous", undefined],
  ];
  const cells = identities.flatMap(([who, token]) =>
    Object.keys(VIRTUAL_SERVERS).flatMap((vs) => Object.keys(TOOLS).map((tool) => ({ who, token, vs, tool })))
  );
  assertEquals(cells.length, 48);

  // Every cell answered by can-i: `--list -o json` per identity and virtual server gives each tool's answer.
  const lists = new Map<string, Map<string, { allowed: boolean; listed: boolean }>>();
  await pool(
    identities.flatMap(([who, token]) => Object.keys(VIRTUAL_SERVERS).map((vs) => ({ who, token, vs }))),
    3,
    async ({ who, token, vs }) => {
      const identity = token ? ["--token", token] : [];
      const result = await runCli([
        "auth",
        "can-i",
        "--list",
        "--virtual-server",
        vs,
        "-o",
        "json",
        ...identity,
        ...s.flags,
      ]);
      assertEquals(result.code, 0, result.stderr);
      const tools =
        (JSON.parse(result.stdout) as { tools: { name: string; allowed: boolean; listed: boolean }[] }).tools;
      lists.set(`${who} ${vs}`, new Map(tools.map((t) => [t.name, t])));
    },
  );
  // And each cell of the `issues` virtual server asked on its own, as a user would: `auth can-i call
  // TOOL`, exit 0 for yes and 1 for no, the same answer as the list's.
  const single = new Map<string, { allowed: boolean; stdout: string }>();
  const asked = cells.filter((cell) => cell.vs === `${NS}/issues` || cell.tool === "github_get_issue");
  await pool(asked, 3, async (cell) => {
    const identity = cell.token ? ["--token", cell.token] : [];
    const result = await runCli([
      "auth",
      "can-i",
      "call",
      cell.tool,
      "--virtual-server",
      cell.vs,
      ...identity,
      ...s.flags,
    ]);
    assert(
      result.code === 0 || result.code === 1,
      `${JSON.stringify(cell)}: exit ${result.code}\n${result.stderr}`,
    );
    assertEquals(result.stdout.split("\n")[0], result.code === 0 ? "yes" : "no", result.stdout);
    single.set(`${cell.who} ${cell.tool} ${cell.vs}`, { allowed: result.code === 0, stdout: result.stdout });
  });
  const answers = cells.map((cell) => {
    const listed = lists.get(`${cell.who} ${cell.vs}`)!.get(cell.tool)!;
    const alone = single.get(`${cell.who} ${cell.tool} ${cell.vs}`);
    if (alone) {
      assertEquals(
        alone.allowed,
        listed.allowed,
        `${JSON.stringify(cell)}: can-i call vs --list\n${alone.stdout}`,
      );
    }
    return { allowed: listed.allowed, stdout: alone?.stdout ?? "" };
  });
  // The same cells through the gateway, for real.
  const actual = await pool(cells, 4, (cell) => callThrough(url, cell.token, cell.vs, cell.tool));
  const disagreements = cells.flatMap((cell, i) =>
    answers[i].allowed === actual[i].ok ? [] : [
      `${cell.who} ${cell.tool} via ${cell.vs}: can-i ${answers[i].allowed ? "yes" : "no"}, gateway ${
        actual[i].ok ? "called it" : `refused (${actual[i].why})`
      }\n${answers[i].stdout}`,
    ]
  );
  assertEquals(disagreements, []);

  // The matrix is not trivial: every identity and virtual server has a yes and a no where roles allow.
  const yes = (who: string, vs: string) =>
    cells.flatMap((cell, i) => cell.who === who && cell.vs === vs && answers[i].allowed ? [cell.tool] : [])
      .sort();
  assertEquals(yes("alice", `${NS}/search-only`), ["github_search", "weather_search"]);
  assertEquals(yes("alice", `${NS}/issues`), ["weather_get_forecast"]);
  assertEquals(yes("bob", `${NS}/search-only`), ["github_get_issue"]);
  assertEquals(yes("bob", `${NS}/issues`), [
    "github_create_issue",
    "github_delete_issue",
    "github_get_issue",
  ]);
  assertEquals(yes("carol", `${NS}/issues`), []);
  assertEquals(yes("anonymous", `${NS}/issues`), []);

  // What decided, as the user reads it.
  const at = (who: string, tool: string, vs: string) => single.get(`${who} ${tool} ${vs}`)!.stdout;
  const denied = at("alice", "github_create_issue", `${NS}/issues`);
  assertStringIncludes(
    denied,
    `tools/call github_create_issue -> server ${NS}/github: denied 403 by ${GW_NS}/mcp-tool-auth-policy, rule tool-access-check: Unauthorized`,
  );
  assertStringIncludes(denied, "predicate: ('tool:' + request.headers['x-mcp-toolname']) in (");
  assertMatch(
    at("anonymous", "github_get_issue", `${NS}/search-only`),
    new RegExp(
      `^no\n  initialize -> broker: denied 401 by ${GW_NS}/mcp-auth-policy, identity keycloak: credential not found`,
    ),
  );
  assertStringIncludes(
    at("alice", "github_search", `${NS}/issues`),
    `tool github_search is not in virtual server ${NS}/issues, and virtual servers are enforced`,
  );
  assertStringIncludes(
    at("bob", "github_get_issue", `${NS}/search-only`),
    `tools/call github_get_issue -> server ${NS}/github: allowed by ${GW_NS}/mcp-tool-auth-policy (identity sso-server; rule tool-access-check passed)`,
  );
  for (const answer of answers) {
    for (const token of Object.values(s.tokens)) {
      assert(!answer.stdout.includes(token), "no token in the output");
    }
  }

  // --list: the same answers, every tool at once.
  const list = await runCli(["auth", "can-i", "--list", "--token", s.tokens.bob, "-o", "json", ...s.flags]);
  assertEquals(list.code, 0, list.stderr);
  const document = JSON.parse(list.stdout) as {
    tools: { name: string; allowed: boolean; listed: boolean }[];
  };
  assertEquals(
    document.tools.filter((t) => t.allowed).map((t) => t.name).sort(),
    ["github_create_issue", "github_delete_issue", "github_get_issue"],
  );
  assertEquals(
    document.tools.filter((t) => t.listed).map((t) => t.name).sort(),
    ["github_create_issue", "github_delete_issue", "github_get_issue"],
  );
  const table = await runCli(["auth", "can-i", "--list", "--token", s.tokens.alice, ...s.flags]);
  assertEquals(table.code, 0, table.stderr);
  assertEquals(table.stdout.trim().split("\n").map((line) => line.trim().split(/\s{2,}/)), [
    ["TOOL", "SERVER", "LISTED"],
    ["github_search", `${NS}/github`, "yes"],
    ["weather_get_forecast", `${NS}/weather`, "yes"],
    ["weather_search", `${NS}/weather`, "yes"],
  ]);
});

Deno.test("--claims (what-if) answers as a real token carrying the same claims; tools --token lists what the wristband keeps; --explain says why", async () => {
  await using s = await setup();
  const verdicts = (stdout: string) =>
    (JSON.parse(stdout) as {
      tools: {
        name: string;
        allowed: boolean;
        listed: boolean;
        decidedBy: { rule?: string; stage?: string };
      }[];
    }).tools.map((t) => [t.name, t.allowed, t.listed, t.decidedBy.rule ?? null, t.decidedBy.stage ?? null]);
  for (const who of ["alice", "bob"]) {
    const file = `${s.dir}/../${who}-claims.yaml`;
    // Claims as a file says them: no signature, no iss, no exp.
    await Deno.writeTextFile(file, stringify(CLAIMS[who]));
    try {
      const [whatIf, real, whatIfTools, realTools] = await Promise.all([
        runCli(["auth", "can-i", "--list", "-o", "json", "--claims", file, ...s.flags]),
        runCli(["auth", "can-i", "--list", "-o", "json", "--token", s.tokens[who], ...s.flags]),
        runCli(["tools", "-o", "name", "--claims", file, ...s.flags]),
        runCli(["tools", "-o", "name", "--token", s.tokens[who], ...s.flags]),
      ]);
      for (const result of [whatIf, real, whatIfTools, realTools]) {
        assertEquals(result.code, 0, result.stderr);
      }
      assertEquals(verdicts(whatIf.stdout), verdicts(real.stdout));
      assert(verdicts(real.stdout).some(([, allowed]) => allowed), `${who} may call something`);
      assertEquals(whatIfTools.stdout, realTools.stdout);
    } finally {
      await Deno.remove(file);
    }
  }

  // tools as an identity: the wristband's list, then the virtual server's.
  const alice = await runCli(["tools", "-o", "name", "--token", s.tokens.alice, ...s.flags]);
  assertEquals(alice.stdout.trim().split("\n").sort(), [
    "github_search",
    "weather_get_forecast",
    "weather_search",
  ]);
  const bob = await runCli([
    "tools",
    "-o",
    "name",
    "--token",
    s.tokens.bob,
    "--virtual-server",
    `${NS}/search-only`,
    ...s.flags,
  ]);
  assertEquals(bob.stdout.trim(), "github_get_issue");

  // --explain: the wristband leaves it out, and the call is refused by the rule.
  const dropped = await runCli([
    "tools",
    "--explain",
    "github_create_issue",
    "-o",
    "json",
    "--token",
    s.tokens.alice,
    ...s.flags,
  ]);
  assertEquals(dropped.code, 0, dropped.stderr);
  const explanation = JSON.parse(dropped.stdout) as {
    listed: boolean;
    reasons: { code: string; message: string }[];
  };
  assertEquals(explanation.listed, false);
  assertEquals(explanation.reasons.map((r) => r.code), ["wristband-filter", "auth-denied"]);
  assertStringIncludes(
    explanation.reasons[1].message,
    `${GW_NS}/mcp-tool-auth-policy, rule tool-access-check`,
  );

  // A token the issuer did not sign: the session is refused, with the identity's error.
  const forged = `${s.tokens.alice.slice(0, -4)}AAAA`;
  const refused = await runCli(["tools", "--explain", "weather_search", "--token", forged, ...s.flags]);
  assertEquals(refused.code, 0, refused.stderr);
  assertMatch(
    refused.stdout,
    new RegExp(
      `REASON: +weather_search is not listed: this identity's tools/list is refused \\(initialize -> broker: denied 401 by ${GW_NS}/mcp-auth-policy, identity keycloak: .+\\)\\. \\[auth-denied\\]`,
    ),
  );
  assert(!refused.stdout.includes(forged) && !refused.stderr.includes(forged), "the token is not printed");

  // Usage: two identities, a question without a name, an unknown verb: exit 2.
  for (
    const args of [
      ["auth", "can-i", "call", "x", "--token", "t", "--claims", "f"],
      ["auth", "can-i", "call"],
      ["auth", "can-i", "delete", "x"],
    ]
  ) {
    const result = await runCli(args);
    assertEquals(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
  }
});

Deno.test("--user gets its token from a running simulate --dev-idp: can-i from the files, tools and call through that gateway", async () => {
  await using s = await setup();
  const users = `${s.dir}/../users-${crypto.randomUUID()}.yaml`;
  // The provider sets `sub` itself: the user's name.
  const withoutSub = (claims: Record<string, unknown>) => ({ ...claims, sub: undefined });
  await Deno.writeTextFile(
    users,
    JSON.stringify({ alice: withoutSub(CLAIMS.alice), bob: withoutSub(CLAIMS.bob) }),
  );
  try {
    await using sim = spawnCli(["simulate", "--port", "0", "--dev-idp", "--users", users, ...s.flags]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);
    const idp = ["--dev-idp", url];

    // The same answers as alice's real token from the test's issuer, the dev provider standing in for it.
    const [asUser, asToken] = await Promise.all([
      runCli(["auth", "can-i", "--list", "-o", "json", "--user", "alice", ...idp, ...s.flags]),
      runCli(["auth", "can-i", "--list", "-o", "json", "--token", s.tokens.alice, ...s.flags]),
    ]);
    assertEquals(asUser.code, 0, asUser.stderr);
    const allowed = (stdout: string) =>
      (JSON.parse(stdout) as { tools: { name: string; allowed: boolean }[] }).tools.filter((t) => t.allowed)
        .map((t) => t.name);
    assertEquals(allowed(asUser.stdout), allowed(asToken.stdout));
    assertEquals(allowed(asUser.stdout).sort(), ["github_search", "weather_get_forecast", "weather_search"]);
    const no = await runCli([
      "auth",
      "can-i",
      "call",
      "github_create_issue",
      "--user",
      "alice",
      ...idp,
      ...s.flags,
    ]);
    assertEquals(no.code, 1, no.stderr);
    assertStringIncludes(no.stdout, "rule tool-access-check");

    // Through the running gateway itself: bob's list and a call in his roles.
    const tools = await runCli(["tools", "-o", "name", "--user", "bob", "--gateway", url]);
    assertEquals(tools.code, 0, tools.stderr);
    assertEquals(tools.stdout.trim().split("\n").sort(), [
      "github_create_issue",
      "github_delete_issue",
      "github_get_issue",
    ]);
    const call = await runCli([
      "call",
      "github_get_issue",
      "--arg",
      "number=1",
      "--user",
      "bob",
      "--gateway",
      url,
    ]);
    assertEquals(call.code, 0, call.stderr);
    assertStringIncludes(call.stdout, '"number":1');
    // An unknown user is the provider's refusal, not a yes or no.
    const unknown = await runCli([
      "auth",
      "can-i",
      "call",
      "weather_search",
      "--user",
      "mallory",
      ...idp,
      ...s.flags,
    ]);
    assertEquals(unknown.code, 1);
    assertEquals(unknown.stdout, "");
    assertStringIncludes(unknown.stderr, "mallory");
  } finally {
    await Deno.remove(users);
  }
});
