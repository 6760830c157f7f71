/**
 * Credentials are never printed: a credential that cannot be an HTTP header value is refused where
 * it is loaded, naming its Secret and key; the user's own `--token` likewise; and no error that
 * quotes a header value reaches the terminal, `/status` or `/metrics`. Also the names the API
 * server would refuse for a credential Secret and its key are refused by `register`.
 * Everything runs the real binary against real fixture MCP servers.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { startFixture } from "./fixtures/mod.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";

const NS = "mcp-test";
/** A credential that would smuggle a second header into every request to the server. */
const SMUGGLING = "Bearer abc\r\nX-Evil: 1";
/** Text of {@link SMUGGLING} that must appear nowhere. */
const LEAKS = ["X-Evil", "Bearer abc"];

function assertNoLeak(text: string, where: string): void {
  for (const leak of LEAKS) assert(!text.includes(leak), `${where} shows the credential:\n${text}`);
}

function registration(name: string, spec: Record<string, unknown>) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { name, namespace: NS },
    spec: {
      targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `${name}-route` },
      ...spec,
    },
  };
}

function secret(name: string, fields: Record<string, unknown>) {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: NS, labels: { "mcp.kuadrant.io/secret": "true" } },
    ...fields,
  };
}

async function manifestDir(objects: unknown[]): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-secrets-" });
  await Deno.writeTextFile(`${dir}/all.yaml`, objects.map((o) => stringify(o)).join("---\n"));
  return dir;
}

Deno.test("simulate refuses a credential that is not a header value, names its Secret and key, and serves the rest", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  const dir = await manifestDir([
    registration("weather", { prefix: "weather_" }),
    registration("github", { prefix: "gh_", credentialRef: { name: "github-token" } }),
    registration("search", { prefix: "search_", credentialRef: { name: "search-token", key: "pat" } }),
    secret("github-token", { stringData: { token: SMUGGLING } }),
    // The same through data, as a cluster holds it.
    secret("search-token", { data: { pat: btoa(SMUGGLING) } }),
  ]);
  try {
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--upstream",
      `weather=${weather.url}`,
      "--upstream",
      `github=${github.url}`,
      "--upstream",
      `search=${github.url}`,
      "--port",
      "0",
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/);
    const status = await (await fetch(new URL("/status", url))).text();
    const metrics = await (await fetch(new URL("/metrics", url))).text();
    const client = await connectGateway(url);
    let tools: string[];
    try {
      tools = (await listAllTools(client)).map((tool) => tool.name);
    } finally {
      await client.close();
    }
    assertEquals(await sim.interrupt(), 130);
    assertNoLeak(sim.stdout, "stdout");
    assertNoLeak(sim.stderr, "stderr");
    assertNoLeak(status, "/status");
    assertNoLeak(metrics, "/metrics");
    // The bad servers are unusable with the reason; the good one serves.
    assertMatch(sim.stdout, /^mcp-test\/github\s.*\sUnresolved$/m);
    assertMatch(sim.stdout, /^mcp-test\/search\s.*\sUnresolved$/m);
    assertMatch(
      sim.stdout,
      /^mcp-test\/github: Secret mcp-test\/github-token key "token" .*not a valid HTTP header/m,
    );
    assertMatch(
      sim.stdout,
      /^mcp-test\/search: Secret mcp-test\/search-token key "pat" .*not a valid HTTP header/m,
    );
    assert(tools.includes("weather_search"), tools.join(", "));
    assert(!tools.some((name) => name.startsWith("gh_") || name.startsWith("search_")), tools.join(", "));
    // The validation gate says so before starting, as validate does.
    assertStringIncludes(sim.stderr, "credential.invalid");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("validate flags a credential that is not a header value without printing it", async () => {
  const dir = await manifestDir([
    registration("github", { prefix: "gh_", credentialRef: { name: "github-token" } }),
    secret("github-token", { stringData: { token: SMUGGLING } }),
  ]);
  try {
    for (const output of [[], ["-o", "json"]]) {
      const result = await runCli(["validate", "-f", dir, ...output]);
      assertEquals(result.code, 1, result.stderr);
      assertNoLeak(result.stdout + result.stderr, `validate ${output.join(" ")}`);
      assertStringIncludes(result.stdout + result.stderr, "credential.invalid");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a gateway given such a credential directly keeps it out of /status, /metrics and its log", async () => {
  await using weather = await startFixture("weather");
  const lines: string[] = [];
  // Past every load-time check: the gateway library itself must not quote it either.
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "test/weather", url: weather.url, credential: SMUGGLING }] }),
    { port: 0, logger: (_level, message) => lines.push(message) },
  );
  const status = await (await fetch(gw.url.replace(/mcp$/, "status"))).json();
  const metrics = await (await fetch(gw.url.replace(/mcp$/, "metrics"))).text();
  const server = status.servers.find((s: { name: string }) => s.name === "test/weather");
  assertStringIncludes(server.lastError ?? "", "Invalid header value (not shown)");
  assertNoLeak(JSON.stringify(status), "/status");
  assertNoLeak(metrics, "/metrics");
  assertNoLeak(lines.join("\n"), "the gateway log");
});

Deno.test("--token that is not a header value is a usage error naming the flag, not the value", async () => {
  await using weather = await startFixture("weather");
  const dir = await manifestDir([registration("weather", { prefix: "weather_" })]);
  try {
    const replay = ["-f", dir, "--upstream", `weather=${weather.url}`];
    for (
      const args of [
        ["tools", ...replay, "--token", "a\nX-Evil: 1"],
        ["call", "weather_search", ...replay, "--token", "Bearer abc\r\nX-Evil: 1"],
        // (A NUL cannot be passed in an argument at all.)
        ["tools", "--gateway", "http://127.0.0.1:9/mcp", "--token", "Bearer abc\rX-Evil"],
        ["tools", "--gateway", "http://127.0.0.1:9/mcp", "--token", "Bearer abc\u2603X-Evil"],
      ]
    ) {
      const result = await runCli(args);
      assertEquals(result.code, 2, `${args[0]}: ${result.stderr}`);
      assertStringIncludes(result.stderr, "--token");
      assertNoLeak(result.stdout + result.stderr, args[0]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a kubeconfig token that is not a header value is refused naming its user, never shown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-secrets-" });
  try {
    await Deno.writeTextFile(
      `${dir}/config`,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: "http://127.0.0.1:9" } }],
        users: [{ name: "u", user: { token: SMUGGLING } }],
        contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "default" } }],
        "current-context": "x",
      }),
    );
    for (const debug of [{}, { KUBECTL_MCP_DEBUG: "1" }] as Record<string, string>[]) {
      const result = await runCli(["get", "servers", "--kubeconfig", `${dir}/config`], { env: debug });
      assertEquals(result.code, 1, result.stderr);
      assertNoLeak(result.stdout + result.stderr, "get servers");
      assertStringIncludes(
        result.stderr,
        'the token of user "u" in the kubeconfig is not a valid HTTP header value: ',
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("register refuses a literal credential that is not a header value, naming the flag only", async () => {
  const result = await runCli([
    "register",
    "search",
    "--route",
    "search-route",
    "--credential",
    "search-token",
    "--credential-from-literal",
    SMUGGLING,
    "--dry-run=client",
    "-n",
    NS,
  ]);
  assertEquals(result.code, 2, result.stderr);
  assertStringIncludes(result.stderr, "--credential-from-literal");
  assertStringIncludes(result.stderr, "carriage return");
  assertNoLeak(result.stdout + result.stderr, "register");
});

Deno.test("register refuses a Secret name or key the API server would refuse, naming the flag and the rule", async () => {
  const register = (credential: string) =>
    runCli([
      "register",
      "search",
      "--route",
      "search-route",
      "--credential",
      credential,
      "--dry-run=client",
      "-n",
      NS,
    ]);
  const name = await register("Bad_Name");
  assertEquals(name.code, 2, name.stderr);
  assertStringIncludes(name.stderr, "--credential");
  assertStringIncludes(name.stderr, "DNS-1123 subdomain");
  const key = await register("search-token:BAD KEY!");
  assertEquals(key.code, 2, key.stderr);
  assertStringIncludes(key.stderr, "--credential");
  assertStringIncludes(key.stderr, "[-._a-zA-Z0-9]+");
  const ok = await register("search-token:api.key_1");
  assertEquals(ok.code, 0, ok.stderr);
});
