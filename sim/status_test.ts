/**
 * The `/status` document built from a server set of real fixtures (ready, disabled, conflicting,
 * unreachable, rejected), and the `/status` routes of a running gateway against broker v0.9.0's
 * observed answers (issue #11 observation file, section 2 rows 18-19 and section 3.11/3.12).
 */
import { assert, assertEquals } from "../test/helpers/assert.ts";
import { INVALID_SCHEMA_TOOLS, startFixture } from "../test/fixtures/mod.ts";
import { switchableProxy } from "../test/sim_helpers.ts";
import { recordedServerSet, unreachableUrl } from "../test/sim_stages.ts";
import { normalizeConfig } from "./config.ts";
import { startGateway } from "./gateway.ts";
import { gatewayStatus } from "./status.ts";

/** Broker v0.9.0 observed: `/status` top-level fields, in this order (3.11). */
const BROKER_TOP_LEVEL = [
  "servers",
  "overallValid",
  "totalServers",
  "healthyServers",
  "unHealthyServers",
  "toolConflicts",
  "timestamp",
  "scopedSessions",
];

/** Broker v0.9.0 observed: a server element's fields, in this order, without the empty lists (3.11). */
const BROKER_SERVER_FIELDS = [
  "id",
  "name",
  "lastValidated",
  "message",
  "ready",
  "totalTools",
  "totalPrompts",
  "invalidTools",
  "invalidPrompts",
  "protocolValidation",
];

const CONTEXT = { scopedSessions: 2, sessions: 3, federateAll: false };

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
  const status = gatewayStatus(r.set, CONTEXT);
  const [ready, off, conflicting, unreachable] = status.servers;
  const pv = r.set.upstream("test/weather")!.protocolVersion!;

  assertEquals(Object.keys(status).slice(0, BROKER_TOP_LEVEL.length), BROKER_TOP_LEVEL);
  for (const s of status.servers) {
    assertEquals(Object.keys(s).slice(0, BROKER_SERVER_FIELDS.length), BROKER_SERVER_FIELDS, s.name);
  }
  assertEquals(ready, {
    id: "test/weather::127.0.0.1",
    name: "test/weather",
    lastValidated: ready.lastValidated,
    message: "server added successfully. Total tools added 2. Total prompts added 1",
    ready: true,
    totalTools: 2,
    totalPrompts: 1,
    invalidTools: 0,
    invalidPrompts: 0,
    protocolValidation: { isValid: true, supportedVersion: pv, expectedVersion: "2025-11-25" },
    prefix: "",
    url: weather.url,
    enabled: true,
    state: "ready",
    protocolVersion: pv,
    toolCount: 2,
    tools: ["get_forecast", "search"],
    promptCount: 1,
    resourceCount: r.set.upstream("test/weather")!.listing!.resources.length,
    failedPings: 0,
    conflicts: [{ kind: "tool", name: "search", conflictsWith: "test/github" }],
  });
  const validated = Date.parse(ready.lastValidated);
  assert(validated >= before - 10_000 && validated <= Date.now(), ready.lastValidated);
  assert(ready.resourceCount > 0);
  // Broker v0.9.0: a disabled server is kept, not ready, with this message.
  assertEquals(off, {
    id: "test/off:o_:127.0.0.1",
    name: "test/off",
    lastValidated: status.timestamp,
    message: "server is disabled",
    ready: false,
    totalTools: 0,
    totalPrompts: 0,
    invalidTools: 0,
    invalidPrompts: 0,
    protocolValidation: { isValid: false, supportedVersion: "", expectedVersion: "" },
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
  });
  // Broker v0.9.0 observed (3.12, conflict config): the loser is not ready, counts nothing, and names
  // the clashing tools in its message. Its prompt clashes with none and is served.
  assertEquals(
    [conflicting.ready, conflicting.message, conflicting.totalTools, conflicting.totalPrompts],
    [
      false,
      "upstream mcp failed to add tools to gateway test/github::127.0.0.1 : conflicting tools discovered. " +
      "conflicting tool names [search]",
      0,
      0,
    ],
  );
  assertEquals(conflicting.protocolValidation, { isValid: false, supportedVersion: "", expectedVersion: "" });
  assertEquals(conflicting.state, "ready");
  assertEquals([conflicting.toolCount, conflicting.tools, conflicting.promptCount], [0, [], 1]);
  assertEquals(conflicting.conflicts, [{ kind: "tool", name: "search", conflictsWith: "test/weather" }]);
  assertEquals(unreachable.state, "connecting");
  assertEquals(unreachable.ready, false);
  assertEquals(unreachable.failedPings, 1);
  assert(unreachable.lastError, "the failure is reported");
  assertEquals(
    unreachable.message,
    `failed to connect to upstream mcp test/dead:d_:127.0.0.1 : ${unreachable.lastError}`,
  );
  assertEquals(unreachable.toolCount, 0);

  assertEquals(status.totalServers, 4);
  assertEquals([status.healthyServers, status.unHealthyServers, status.overallValid], [1, 3, false]);
  // Broker v0.9.0 never counts conflicts here (3.12: 0 with a conflict); they are in `conflicts`.
  assertEquals(status.toolConflicts, 0);
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
  assertEquals([status.scopedSessions, status.sessions, status.federateAll], [2, 3, false]);
  const at = Date.parse(status.timestamp);
  assert(at >= before - 1000 && at <= Date.now(), status.timestamp);
});

Deno.test("gatewayStatus: a server rejected for invalid tool schemas is not ready and lists its invalid tools", async () => {
  await using invalid = await startFixture("invalid-schema");
  await using r = recordedServerSet({
    servers: [{ name: "test/invalid", url: invalid.url, prefix: "i_" }],
    extension: { invalidToolPolicy: "RejectServer", discoveryTools: false },
  });
  await r.set.start();
  const status = gatewayStatus(r.set, CONTEXT);
  const [s] = status.servers;
  assertEquals(s.state, "rejected");
  assertEquals([s.ready, s.toolCount, s.totalTools], [false, 0, 0]);
  const names = Object.values(INVALID_SCHEMA_TOOLS).map((t) => t.tool).sort();
  assertEquals(
    s.message,
    `upstream mcp test/invalid:i_:127.0.0.1 rejected: ${names.length} invalid tools found`,
  );
  assertEquals(s.invalidTools, names.length);
  // The backend's own names: the prefix is not applied to what was never served.
  assertEquals(s.invalidToolList?.map((t) => t.name).sort(), names);
  for (const t of s.invalidToolList ?? []) assert(t.errors.length > 0, t.name);
  assertEquals([status.healthyServers, status.unHealthyServers, status.overallValid], [0, 1, false]);
});

Deno.test("/status routes answer as broker v0.9.0: the document, one server, its 404 and 405", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  await using gw = await startGateway(normalizeConfig({
    servers: [
      { name: "mcp-test/weather", url: weather.url, prefix: "weather_" },
      { name: "mcp-test/github", url: github.url, prefix: "github_" },
    ],
  }));
  const base = gw.url.replace(/\/mcp$/, "");
  const get = async (path: string, init?: RequestInit) => {
    const res = await fetch(base + path, init);
    return { res, text: await res.text() };
  };
  // Broker v0.9.0 observed (status.go): these headers on every status answer.
  const brokerHeaders = (res: Response) => [
    res.headers.get("content-type"),
    res.headers.get("access-control-allow-origin"),
    res.headers.get("access-control-allow-methods"),
    res.headers.get("access-control-allow-headers"),
  ];
  const headers = ["application/json", "*", "GET, OPTIONS", "Content-Type"];

  const all = await get("/status");
  assertEquals(all.res.status, 200);
  assertEquals(brokerHeaders(all.res), headers);
  assert(all.text.endsWith("}\n"), "one JSON line, as Go's json.Encoder writes it");
  const doc = JSON.parse(all.text);
  assertEquals(Object.keys(doc).slice(0, BROKER_TOP_LEVEL.length), BROKER_TOP_LEVEL);
  assertEquals(
    [doc.overallValid, doc.totalServers, doc.healthyServers, doc.unHealthyServers, doc.toolConflicts],
    [true, 2, 2, 0, 0],
  );
  const slash = JSON.parse((await get("/status/")).text);
  assertEquals(slash.servers.map((s: { name: string }) => s.name), ["mcp-test/weather", "mcp-test/github"]);

  // Broker v0.9.0 observed: GET /status/mcp-test/weather is that server's element of `servers`.
  const one = await get("/status/mcp-test/weather");
  assertEquals(one.res.status, 200);
  assertEquals(brokerHeaders(one.res), headers);
  const server = JSON.parse(one.text);
  assertEquals(Object.keys(server).slice(0, BROKER_SERVER_FIELDS.length), BROKER_SERVER_FIELDS);
  assertEquals(server.name, "mcp-test/weather");
  assertEquals(server.message, "server added successfully. Total tools added 2. Total prompts added 1");
  assertEquals(server.ready, true);
  const { lastValidated: _a, ...fromDoc } = doc.servers[0];
  const { lastValidated: _b, ...alone } = server;
  assertEquals(alone, fromDoc);

  // Broker v0.9.0 observed, verbatim: an unknown name, and a name without its namespace.
  const nope = await get("/status/mcp-test/nope");
  assertEquals(nope.res.status, 404);
  assertEquals(brokerHeaders(nope.res), headers);
  assertEquals(
    nope.text,
    `{"error":"Server 'mcp-test/nope' not found. Use format 'namespace/route-name' or check available servers at /status"}\n`,
  );
  const bare = await get("/status/weather");
  assertEquals(bare.res.status, 404);
  assertEquals(
    bare.text,
    `{"error":"Server 'weather' not found. Use format 'namespace/route-name' or check available servers at /status"}\n`,
  );
  // Broker v0.9.0 observed, verbatim: POST /status.
  const post = await get("/status", {
    method: "POST",
    body: "{}",
    headers: { "content-type": "application/json" },
  });
  assertEquals(post.res.status, 405);
  assertEquals(post.text, `{"error":"Method not allowed. Supported methods: GET"}\n`);
  assertEquals(brokerHeaders(post.res), headers);
  // Not the status route: a path that merely starts with the word.
  const other = await get("/statusx");
  assertEquals(other.res.status, 404);
});
