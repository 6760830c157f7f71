/**
 * `simulate`, `tools` and `call` from files (no cluster), through the real CLI against real fixture
 * MCP servers: the replay serves what the manifests say, follows edits, and explains every reason a
 * tool is hidden.
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { switchableProxy } from "./sim_helpers.ts";
import { type RunningFixture, startFixture } from "./fixtures/mod.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";
import { callCommand } from "../src/cli/call.ts";
import { parseFlags } from "../src/cli/flags.ts";
import { captureIo } from "../src/cli/io.ts";
import { openToolSource } from "../src/cli/tool_source.ts";
import { toolsCommand } from "../src/cli/tools.ts";

const NS = "mcp-test";

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

function virtualServer(name: string, tools: string[]) {
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPVirtualServer",
    metadata: { name, namespace: NS },
    spec: { tools },
  };
}

async function writeManifests(dir: string, file: string, objects: unknown[]): Promise<void> {
  await Deno.writeTextFile(`${dir}/${file}`, objects.map((o) => stringify(o)).join("---\n"));
}

interface World {
  dir: string;
  fixtures: Record<string, RunningFixture>;
  flags: string[];
  [Symbol.asyncDispose](): Promise<void>;
}

/** Fixtures and a manifest directory covering each reason a tool can be hidden. */
async function world(): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-replay-" });
  const fixtures: Record<string, RunningFixture> = {
    weather: await startFixture("weather"),
    github: await startFixture("github"),
    invalid: await startFixture("invalid-schema"),
    clash: await startFixture("github"),
  };
  // The server whose tool list arrives first keeps a clashing name (a race in the cluster): clash's
  // list is held back, so github's arrives first.
  const lateClash = switchableProxy(fixtures.clash.url);
  lateClash.delays["tools/list"] = 500;
  await writeManifests(dir, "servers.yaml", [
    registration("weather", { prefix: "weather_" }),
    registration("github", { prefix: "gh_" }),
    registration("invalid", { prefix: "inv_" }),
    // Same prefix as github: its tools clash, so the later list's server has its tools withheld.
    registration("clash", { prefix: "gh_" }),
    registration("paused", { prefix: "paused_", state: "Disabled" }),
    registration("nowhere", { prefix: "nowhere_" }),
  ]);
  await writeManifests(dir, "virtual.yaml", [virtualServer("triage", ["gh_search", "gh_get_issue"])]);
  const flags = ["-f", dir];
  for (const [name, fixture] of Object.entries(fixtures)) {
    flags.push("--upstream", `${NS}/${name}=${name === "clash" ? lateClash.url : fixture.url}`);
  }
  return {
    dir,
    fixtures,
    flags,
    async [Symbol.asyncDispose]() {
      await lateClash.close();
      await Promise.all(Object.values(fixtures).map((fixture) => fixture.close()));
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("tools lists the federated tools with servers and a total; -o json and --server filter", async () => {
  await using w = await world();
  const table = await runCli(["tools", ...w.flags]);
  assertEquals(table.code, 0, table.stderr);
  assertStringIncludes(table.stdout, "NAME");
  assertStringIncludes(table.stdout, "weather_get_forecast");
  assertStringIncludes(table.stdout, `${NS}/weather`);
  assert(!table.stdout.includes("paused_"), "a Disabled registration's tools are listed");
  const json = await runCli(["tools", ...w.flags, "-o", "json"]);
  const doc = JSON.parse(json.stdout);
  assertEquals(doc.total.tools, doc.tools.length);
  assert(doc.tools.every((tool: { tokens: number }) => tool.tokens > 0));
  const only = await runCli(["tools", ...w.flags, "--server", "weather", "-o", "name"]);
  assertEquals(only.stdout.trim().split("\n").sort(), ["weather_get_forecast", "weather_search"]);
});

Deno.test("tools --virtual-server shows only the virtual server's tools; -o wide adds parameters and tokens", async () => {
  await using w = await world();
  const result = await runCli(["tools", ...w.flags, "--virtual-server", `${NS}/triage`, "-o", "wide"]);
  assertEquals(result.code, 0, result.stderr);
  const lines = result.stdout.trim().split("\n");
  assertEquals(lines[0].split(/\s{2,}/), ["NAME", "SERVER", "PARAMETERS", "TOKENS", "DESCRIPTION"]);
  assertEquals(lines.slice(1, -1).map((line) => line.split(/\s+/)[0]), ["gh_get_issue", "gh_search"]);
  assertStringIncludes(lines.at(-1)!, "2 tools from 1 server");
  // A name no MCPVirtualServer has: broker v0.9.0 serves the unfiltered list (issue #11 observation
  // file, section 2 row 17), so the CLI warns, for files and the cluster alike.
  const unknown = await runCli(["tools", ...w.flags, "--virtual-server", `${NS}/nope`]);
  assertStringIncludes(
    unknown.stderr,
    `warning: virtual server ${NS}/nope matches no MCPVirtualServer; the cluster's gateway answers a client ` +
      `sending X-Mcp-Virtualserver: ${NS}/nope with the unfiltered list (every tool)\n` +
      `  hint: the virtual servers are ${NS}/triage\n`,
  );
  assertEquals(unknown.code, 0, unknown.stderr);
  assertStringIncludes(unknown.stdout, "weather_get_forecast");
  const call = await runCli([
    "call",
    "weather_search",
    "--arg",
    "query=x",
    ...w.flags,
    "--virtual-server",
    "triage",
  ]);
  assertStringIncludes(call.stderr, "warning: virtual server triage matches no MCPVirtualServer");
  assert(!result.stderr.includes("warning:"), result.stderr);
});

Deno.test("tools --explain gives the reason for each way a tool is hidden", async () => {
  await using w = await world();
  const explain = async (name: string, extra: string[] = []) => {
    const result = await runCli(["tools", ...w.flags, "--explain", name, "-o", "json", ...extra]);
    assertEquals(result.code, 0, result.stderr);
    return JSON.parse(result.stdout) as { listed: boolean; reasons: { code: string; message: string }[] };
  };
  assertEquals((await explain("weather_search")).listed, true);
  const filtered = await explain("gh_create_issue", ["--virtual-server", `${NS}/triage`]);
  assertEquals([filtered.listed, filtered.reasons[0].code], [false, "virtual-server-filter"]);
  assertEquals((await explain("inv_bad_type_tool")).reasons[0].code, "invalid-schema");
  assertEquals((await explain("paused_anything")).reasons[0].code, "server-disabled");
  const unreachable = await explain("nowhere_tool");
  assertEquals(unreachable.reasons[0].code, "server-unreachable");
  assertStringIncludes(unreachable.reasons[0].message, "--upstream");
  assertEquals((await explain("zzz_unknown")).reasons[0].code, "no-server");
  assertEquals((await explain("weather_no_such_tool")).reasons[0].code, "not-provided");
});

Deno.test("tools --explain names a prefix conflict", async () => {
  await using w = await world();
  // github and clash share the prefix gh_; clash's list comes later, so its tools are withheld.
  const status = await runCli(["tools", ...w.flags, "--server", "clash", "-o", "name"]);
  assertEquals(status.stdout, "");
  const result = await runCli(["tools", ...w.flags, "--explain", "gh_search", "--server", "clash"]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, "LISTED:   yes");
  // Broker v0.9.0 observed (issue #11 observation file, section 2 row 20): the winner is a race.
  assertStringIncludes(
    result.stdout,
    `REASON:   ${NS}/github won a tool conflict with ${NS}/clash (gh_search) here. In the cluster the ` +
      "winner depends on which server answers first: broker v0.9.0 keeps the tools of the server whose list " +
      "arrives first and withholds all tools of the other (its prompts stay). [conflict]",
  );
});

Deno.test("call runs a tool through the replay: typed --arg, -o json, errors and unknown tools", async () => {
  await using w = await world();
  const text = await runCli(["call", "weather_get_forecast", "--arg", "city=Paris", ...w.flags]);
  assertEquals(text.code, 0, text.stderr);
  assertStringIncludes(text.stdout, "Paris");
  const json = await runCli(["call", "gh_get_issue", "--arg", "number=1", "-o", "json", ...w.flags]);
  assertEquals(json.code, 0, json.stderr);
  assertEquals(JSON.parse(json.stdout).isError ?? false, false);
  const badArg = await runCli(["call", "gh_get_issue", "--arg", "number=one", ...w.flags]);
  assertEquals(badArg.code, 2);
  assertStringIncludes(badArg.stderr, "--arg number");
  const missing = await runCli(["call", "gh_nothing", ...w.flags]);
  assertEquals(missing.code, 1);
  assertStringIncludes(missing.stderr, "kubectl mcp tools --explain gh_nothing");
});

Deno.test("simulate -f serves the files, reloads on edits with list_changed, and stops on Ctrl-C", async () => {
  await using w = await world();
  await using sim = spawnCli(["simulate", ...w.flags, "--port", "0"]);
  const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/);
  assertStringIncludes(sim.stdout, "SERVER");
  assertStringIncludes(sim.stdout, `${NS}/nowhere`);
  assertStringIncludes(sim.stdout, "Unresolved");
  const client = await connectGateway(url);
  try {
    let changed = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++);
    assert((await listAllTools(client)).some((tool) => tool.name === "weather_search"));
    // Disable weather in the files: the live session sees it leave, with list_changed.
    const edited = (await Deno.readTextFile(`${w.dir}/servers.yaml`)).replace(
      "prefix: weather_",
      "prefix: weather_\n  state: Disabled",
    );
    const started = Date.now();
    await Deno.writeTextFile(`${w.dir}/servers.yaml`, edited);
    await sim.waitFor(/server mcp-test\/weather changed \(Disabled/, 5000);
    while (changed === 0 && Date.now() - started < 2000) await new Promise((r) => setTimeout(r, 50));
    assert(changed > 0, "no tools/list_changed within 2 s of the edit");
    assert(!(await listAllTools(client)).some((tool) => tool.name.startsWith("weather_")));
  } finally {
    await client.close();
  }
  assertEquals(await sim.interrupt(), 130);
  assertStringIncludes(sim.stdout, "Stopping.");
});

Deno.test("simulate refuses manifests the cluster would reject, naming file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeManifests(dir, "bad.yaml", [registration("bad", { prefix: "Bad-Prefix" })]);
    const result = await runCli(["simulate", "-f", dir, "--port", "0"]);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, `${dir}/bad.yaml:`);
    assertStringIncludes(result.stderr, "schema.pattern");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate reads upstream's standalone broker config file", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/config.yaml`,
      stringify({
        servers: [{
          name: "weather",
          url: weather.url,
          hostname: "weather.local",
          enabled: true,
          prefix: "w_",
        }],
      }),
    );
    const result = await runCli(["tools", "-f", `${dir}/config.yaml`, "-o", "name"]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout.trim().split("\n").sort(), [
      "discover_tools",
      "select_tools",
      "w_get_forecast",
      "w_search",
    ]);
    // The broker's discovery flags, as the cluster's gateway may be started with them.
    const off = await runCli(["tools", "-f", `${dir}/config.yaml`, "-o", "name", "--discovery-tools=false"]);
    assertEquals(off.stdout.trim().split("\n").sort(), ["w_get_forecast", "w_search"], off.stderr);
    const hidden = await runCli(["tools", "-f", `${dir}/config.yaml`, "--discovery-tool-threshold", "1"]);
    assertEquals(hidden.code, 0, hidden.stderr);
    assertMatch(hidden.stdout, /^discover_tools\s+\(gateway\)\s/m);
    assert(!hidden.stdout.includes("w_search"), hidden.stdout);
    const explained = await runCli([
      "tools",
      "-f",
      `${dir}/config.yaml`,
      "--discovery-tool-threshold=1",
      "--explain",
      "w_search",
    ]);
    assertStringIncludes(explained.stdout, "[discovery-threshold]");
    const bad = await runCli(["tools", "-f", `${dir}/config.yaml`, "--discovery-tool-threshold", "many"]);
    assertEquals(bad.code, 2);
    assertStringIncludes(bad.stderr, 'invalid value "many" for --discovery-tool-threshold');
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate applies the MCPGatewayExtension: protected-resource metadata and maxBodyBytes", async () => {
  await using weather = await startFixture("weather");
  const dir = await Deno.makeTempDir();
  try {
    await writeManifests(dir, "all.yaml", [
      {
        apiVersion: "mcp.kuadrant.io/v1",
        kind: "MCPGatewayExtension",
        metadata: { name: "ext", namespace: "gateway-system" },
        spec: {
          targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw", sectionName: "mcp" },
          maxBodyBytes: 4096,
          oauthProtectedResource: {
            authorizationServers: ["https://idp.example.com/realms/mcp"],
            scopesSupported: ["mcp:tools"],
          },
        },
      },
      registration("weather", { prefix: "weather_" }),
    ]);
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--upstream",
      `weather=${weather.url}`,
      "--port",
      "0",
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/);
    const metadata = await (await fetch(new URL("/.well-known/oauth-protected-resource/mcp", url))).json();
    assertEquals(metadata.authorization_servers, ["https://idp.example.com/realms/mcp"]);
    assertEquals(metadata.scopes_supported, ["mcp:tools"]);
    assertEquals(metadata.bearer_methods_supported, ["header"]);
    const big = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(8192) } }),
    });
    await big.body?.cancel();
    assertEquals(big.status, 413);
    assertEquals(await sim.interrupt(), 130);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("tools --watch prints the list again when the files change", async () => {
  await using w = await world();
  await using watch = spawnCli(["tools", ...w.flags, "--watch", "-o", "name"]);
  await watch.waitFor(/weather_search\n/);
  const edited = (await Deno.readTextFile(`${w.dir}/servers.yaml`)).replace(
    "prefix: weather_",
    "prefix: weather_\n  state: Disabled",
  );
  const mark = watch.stdout.length;
  await Deno.writeTextFile(`${w.dir}/servers.yaml`, edited);
  // The reprinted list comes after a blank line and no longer has weather's tools.
  await watch.waitFor(/\n\n(?:[a-z_]+\n)*inv_valid_tool\n/, 10_000);
  const reprinted = watch.stdout.slice(mark);
  assert(reprinted.includes("gh_search"), reprinted);
  assert(!reprinted.includes("weather_"), reprinted);
  assertEquals(await watch.interrupt(), 130);
});

Deno.test("--federate-all reaches the simulator from simulate, tools and call; without it the cluster's behaviour", async () => {
  await using w = await world();
  for (const [extra, expected] of [[[], false], [["--federate-all"], true]] as const) {
    await using sim = spawnCli(["simulate", ...w.flags, "--port", "0", ...extra]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/);
    const status = await (await fetch(new URL("/status", url))).json();
    assertEquals(status.federateAll, expected, `simulate ${extra.join(" ")}`);
    assertEquals(await sim.interrupt(), 130);
  }
  // `tools` and `call` replay in-process: the same flags open the same simulator.
  for (const command of [toolsCommand, callCommand]) {
    for (const [extra, expected] of [[[], false], [["--federate-all"], true]] as const) {
      const { flags } = parseFlags([...w.flags, ...extra], command.flags ?? [], command.name);
      const source = await openToolSource(flags, captureIo());
      try {
        assertEquals((await source.status())?.federateAll, expected, `${command.name} ${extra.join(" ")}`);
      } finally {
        await source.close();
      }
    }
  }
  const help = await runCli(["simulate", "--help"]);
  assertStringIncludes(help.stdout, "--federate-all");
  assertStringIncludes(help.stdout, "the default is the cluster's behaviour");
});

/** Waits (bounded) until `read()` matches `pattern`. */
async function eventually(read: () => string, pattern: RegExp, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!pattern.test(read())) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${pattern} in:\n${read()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("simulate warns that tags hang the cluster's broker v0.9.0, at start and when a reload adds them, and keeps serving", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  const dir = await Deno.makeTempDir();
  try {
    const objects = (githubTags: boolean) => [
      registration("weather", { prefix: "weather_", tags: ["forecast"] }),
      registration("github", { prefix: "gh_", ...(githubTags ? { tags: ["issues"] } : {}) }),
    ];
    await writeManifests(dir, "servers.yaml", objects(false));
    await using sim = spawnCli([
      "simulate",
      "-f",
      dir,
      "--upstream",
      `weather=${weather.url}`,
      "--upstream",
      `github=${github.url}`,
      "--port",
      "0",
    ]);
    const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/);
    // The same words as `validate` (broker v0.9.0 observed: section 2 row 24), once.
    const startup =
      `warning: MCPServerRegistration ${NS}/weather sets "spec.tags", which makes the cluster's ` +
      "broker v0.9.0 hang: tools/list, resources/list, every tools/call, /status and /readyz never answer, " +
      "and it ignores SIGTERM (any registration with tags does this to the whole gateway) [broker.tags-hang]\n" +
      "  hint: ";
    assertStringIncludes(sim.stderr, startup);
    assertEquals(sim.stderr.split("[broker.tags-hang]").length - 1, 1, sim.stderr);
    assert(!sim.stderr.includes(`${NS}/github sets`), sim.stderr);
    // The simulator does not copy the hang: lists, calls, /status and /readyz answer.
    const client = await connectGateway(url);
    try {
      const names = (await listAllTools(client)).map((tool) => tool.name);
      assert(names.includes("weather_search") && names.includes("list_tags"), names.join(" "));
      const result = await client.callTool({ name: "weather_get_forecast", arguments: { city: "Oslo" } });
      assert(!result.isError, JSON.stringify(result));
    } finally {
      await client.close();
    }
    for (const path of ["/status", "/readyz"]) {
      const response = await fetch(new URL(path, url), { signal: AbortSignal.timeout(5000) });
      await response.body?.cancel();
      assertEquals(response.status, 200, path);
    }
    // A reload that adds tags to another registration warns about that one only.
    await writeManifests(dir, "servers.yaml", objects(true));
    await eventually(() => sim.stderr, /\d\d:\d\d:\d\d warning: MCPServerRegistration mcp-test\/github sets/);
    assertEquals(sim.stderr.split(`${NS}/weather sets`).length - 1, 1, sim.stderr);
    assertEquals(await sim.interrupt(), 130);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
