/** The `/status` document built from a server set of real fixtures: ready, disabled, conflicting, unreachable. */
import { assert, assertEquals } from "../test/helpers/assert.ts";
import { INVALID_SCHEMA_TOOLS, startFixture } from "../test/fixtures/mod.ts";
import { switchableProxy } from "../test/sim_helpers.ts";
import { recordedServerSet, unreachableUrl } from "../test/sim_stages.ts";
import { gatewayStatus } from "./status.ts";

Deno.test("gatewayStatus: a ready, a disabled, a conflicting and an unreachable server, and the totals", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  // The server whose tool list arrives first keeps a clashing name: github's comes late.
  await using lateGithub = switchableProxy(github.url);
  lateGithub.delays["tools/list"] = 300;
  const deadUrl = unreachableUrl();
  await using r = recordedServerSet({
    servers: [
      { name: "test/weather", url: weather.url, tags: ["forecast"] },
      { name: "test/off", url: "http://127.0.0.1:9/mcp", prefix: "o_", enabled: false },
      { name: "test/github", url: lateGithub.url },
      { name: "test/dead", url: deadUrl, prefix: "d_" },
    ],
    extension: { discoveryToolThreshold: 5 },
  });
  await r.set.start();
  const before = Date.now();
  const status = gatewayStatus(r.set, { scopedSessions: 2, sessions: 3 });
  const [ready, off, conflicting, unreachable] = status.servers;

  assertEquals(ready, {
    name: "test/weather",
    prefix: "",
    url: weather.url,
    enabled: true,
    state: "ready",
    protocolVersion: r.set.upstream("test/weather")!.protocolVersion!,
    toolCount: 2,
    tools: ["get_forecast", "search"],
    promptCount: 1,
    resourceCount: r.set.upstream("test/weather")!.listing!.resources.length,
    failedPings: 0,
    conflicts: [{ kind: "tool", name: "search", conflictsWith: "test/github" }],
    invalidTools: [],
  });
  assert(ready.protocolVersion && ready.resourceCount > 0);
  assertEquals(off, {
    name: "test/off",
    prefix: "o_",
    url: "http://127.0.0.1:9/mcp",
    enabled: false,
    state: "disabled",
    toolCount: 0,
    tools: [],
    promptCount: 0,
    resourceCount: 0,
    failedPings: 0,
    conflicts: [],
    invalidTools: [],
  });
  // Connected, but its tools are withheld as a whole (one clashes with an earlier server's); its
  // prompt clashes with none and is served.
  assertEquals(conflicting.state, "ready");
  assertEquals([conflicting.toolCount, conflicting.tools, conflicting.promptCount], [0, [], 1]);
  assertEquals(conflicting.conflicts, [{ kind: "tool", name: "search", conflictsWith: "test/weather" }]);
  assertEquals(unreachable.state, "connecting");
  assertEquals(unreachable.failedPings, 1);
  assert(unreachable.lastError, "the failure is reported");
  assertEquals(unreachable.toolCount, 0);

  assertEquals(status.totalServers, 4);
  assertEquals(status.healthyServers, 2);
  assertEquals(status.toolCount, 2);
  assertEquals(status.promptCount, 2);
  assertEquals(status.conflicts.map(({ message: _, ...conflict }) => conflict), [{
    kind: "tool",
    name: "search",
    server: "test/weather",
    conflictsWith: "test/github",
  }]);
  assert(status.conflicts[0].message.includes("whose tool list arrived first"), status.conflicts[0].message);
  assertEquals(status.metaTools, ["discover_tools", "select_tools", "list_tags", "filter_tools_by_tags"]);
  assertEquals(status.discovery, { enabled: true, threshold: 5 });
  assertEquals([status.scopedSessions, status.sessions], [2, 3]);
  const at = Date.parse(status.timestamp);
  assert(at >= before - 1000 && at <= Date.now(), status.timestamp);
});

Deno.test("gatewayStatus: a server rejected for invalid tool schemas is reported rejected with its invalid tools", async () => {
  await using invalid = await startFixture("invalid-schema");
  await using r = recordedServerSet({
    servers: [{ name: "test/invalid", url: invalid.url, prefix: "i_" }],
    extension: { invalidToolPolicy: "RejectServer", discoveryTools: false },
  });
  await r.set.start();
  const [s] = gatewayStatus(r.set, { scopedSessions: 0, sessions: 0 }).servers;
  assertEquals(s.state, "rejected");
  assertEquals(s.toolCount, 0);
  // The backend's own names: the prefix is not applied to what was never served.
  assertEquals(
    s.invalidTools.map((t) => t.name).sort(),
    Object.values(INVALID_SCHEMA_TOOLS).map((t) => t.tool).sort(),
  );
  for (const t of s.invalidTools) assert(t.errors.length > 0, t.name);
});
