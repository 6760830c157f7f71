import { assertEquals } from "../../test/helpers/assert.ts";
import {
  attributionServers,
  estimateTokens,
  formatToolTable,
  GATEWAY_OWNER,
  serverOf,
  toolRows,
} from "./mod.ts";
import { explainTool } from "./explain.ts";
import type { GatewayStatus } from "../../sim/mod.ts";

const tool = (name: string, required: string[] = []) => ({
  name,
  description: `Does ${name}`,
  inputSchema: {
    type: "object" as const,
    properties: { q: { type: "string" }, n: { type: "number" } },
    required,
  },
});

Deno.test("serverOf uses the reported tool list first, then the longest matching prefix", () => {
  const servers = [{ name: "ns/a", prefix: "a_" }, { name: "ns/ab", prefix: "a_b_" }, {
    name: "ns/x",
    prefix: "",
    tools: ["a_b_special"],
  }];
  assertEquals(serverOf("a_b_search", servers), "ns/ab");
  assertEquals(serverOf("a_search", servers), "ns/a");
  assertEquals(serverOf("a_b_special", servers), "ns/x");
  assertEquals(serverOf("zzz", [{ name: "ns/a", prefix: "a_" }]), "");
});

Deno.test("rows mark required parameters, estimate tokens and total them", () => {
  const rows = toolRows([tool("a_search", ["q"])], [{ name: "ns/a", prefix: "a_" }]);
  assertEquals(rows[0].parameters, ["q*", "n"]);
  assertEquals(rows[0].tokens, estimateTokens(rows[0].definition));
  const table = formatToolTable(rows, { wide: true });
  assertEquals(table.split("\n")[0].split(/\s{2,}/), [
    "NAME",
    "SERVER",
    "PARAMETERS",
    "TOKENS",
    "DESCRIPTION",
  ]);
  assertEquals(table.trim().split("\n").at(-1), `1 tool from 1 server, ~${rows[0].tokens} tokens`);
});

Deno.test("explain: listed, filtered by a virtual server, withheld by a conflict, unhealthy", () => {
  const status = {
    servers: [
      {
        name: "ns/a",
        prefix: "a_",
        enabled: true,
        state: "ready",
        tools: ["a_search"],
        conflicts: [],
      },
      {
        name: "ns/b",
        prefix: "a_",
        enabled: true,
        state: "ready",
        tools: [],
        conflicts: [],
      },
      {
        name: "ns/c",
        prefix: "c_",
        enabled: true,
        state: "unhealthy",
        lastError: "connection refused",
        tools: [],
        conflicts: [],
      },
    ],
    conflicts: [{ kind: "tool", name: "a_search", server: "ns/a", conflictsWith: "ns/b" }],
  } as unknown as GatewayStatus;
  const all = [tool("a_search")];
  assertEquals(explainTool("a_search", { listed: all, unfiltered: all, status }).reasons[0].code, "listed");
  assertEquals(
    explainTool("a_search", { listed: [], unfiltered: all, status, virtualServer: "ns/vs" }).reasons[0].code,
    "virtual-server-filter",
  );
  // Broker v0.9.0 observed (issue #11 observation file, section 2 row 20): the server whose list
  // arrives first keeps its tools, the other loses all of them; which one varies between runs.
  const race = "In the cluster the winner depends on which server answers first: broker v0.9.0 keeps the " +
    "tools of the server whose list arrives first and withholds all tools of the other (its prompts stay).";
  const won = explainTool("a_search", { listed: all, unfiltered: all, status });
  assertEquals(won.reasons.map((r) => r.code), ["listed", "conflict"]);
  assertEquals(won.reasons[1].message, `ns/a won a tool conflict with ns/b (a_search) here. ${race}`);
  const loser = {
    servers: [
      { name: "ns/a", prefix: "", enabled: true, state: "ready", tools: ["b_search"], conflicts: [] },
      { name: "ns/b", prefix: "b_", enabled: true, state: "ready", tools: [], conflicts: [] },
    ],
    conflicts: [{ kind: "tool", name: "b_search", server: "ns/a", conflictsWith: "ns/b" }],
  } as unknown as GatewayStatus;
  const lost = explainTool("b_get_issue", { listed: all, unfiltered: all, status: loser });
  assertEquals([lost.listed, lost.server], [false, "ns/b"]);
  assertEquals(lost.reasons, [{
    code: "conflict",
    message: `ns/b's tools are withheld: its tool b_search conflicts with ns/a, which won here. ${race}`,
  }]);
  const unhealthy = explainTool("c_thing", { listed: all, unfiltered: all, status });
  assertEquals(unhealthy.reasons[0].code, "server-unhealthy");
  assertEquals(unhealthy.reasons[0].message.includes("connection refused"), true);
});

Deno.test("explain and rows: the gateway's meta-tools belong to it; the discovery threshold hides the rest", () => {
  const status = {
    servers: [{
      name: "ns/a",
      prefix: "",
      enabled: true,
      state: "ready",
      tools: ["search", "fetch"],
      conflicts: [],
    }],
    conflicts: [],
    toolCount: 2,
    metaTools: ["discover_tools", "select_tools"],
    discovery: { enabled: true, threshold: 1 },
  } as unknown as GatewayStatus;
  const meta = [tool("discover_tools"), tool("select_tools")];
  const discover = explainTool("discover_tools", { listed: meta, unfiltered: meta, status });
  assertEquals([discover.server, discover.reasons[0].code], [GATEWAY_OWNER, "gateway-meta-tool"]);
  const hidden = explainTool("search", { listed: meta, unfiltered: meta, status });
  assertEquals([hidden.listed, hidden.server, hidden.reasons[0].code], [
    false,
    "ns/a",
    "discovery-threshold",
  ]);
  assertEquals(hidden.reasons[0].message.includes("select_tools brings search back"), true);
  // Without /status (a cluster's gateway), upstream's meta-tool names still go to the gateway, not
  // to the one prefix-less server.
  const rows = toolRows(
    [tool("select_tools"), tool("search")],
    attributionServers(undefined, [{ name: "ns/a", prefix: "" }]),
  );
  assertEquals(rows.map((r) => [r.name, r.server]), [["search", "ns/a"], ["select_tools", GATEWAY_OWNER]]);
});

Deno.test("explainTool with an identity: auth-denied for a refused list or call, wristband-filter for a tool the wristband leaves out", () => {
  const status = {
    servers: [{ name: "ns/a", prefix: "a_", enabled: true, state: "ready", tools: ["a_search", "a_get"] }],
    metaTools: [],
    conflicts: [],
  } as unknown as GatewayStatus;
  const all = [tool("a_search"), tool("a_get")];
  const rule = "tools/call a_get -> server ns/a: denied 403 by gw/p, rule tool-access-check: Unauthorized";
  const refused = explainTool("a_get", {
    listed: [],
    unfiltered: [],
    status,
    auth: { listDenied: "initialize -> broker: denied 401 by gw/p, identity sso: credential not found" },
  });
  assertEquals(refused.listed, false);
  assertEquals(refused.reasons.map((r) => r.code), ["auth-denied"]);
  assertEquals(refused.reasons[0].message.includes("identity sso: credential not found"), true);
  const dropped = explainTool("a_get", {
    listed: [all[0]],
    unfiltered: [all[0]],
    status,
    auth: { wristband: "dropped", callDenied: rule },
  });
  assertEquals(dropped.reasons.map((r) => r.code), ["wristband-filter", "auth-denied"]);
  assertEquals(dropped.server, "ns/a");
  const listedButRefused = explainTool("a_get", {
    listed: all,
    unfiltered: all,
    status,
    auth: { wristband: "kept", callDenied: rule },
  });
  assertEquals(listedButRefused.listed, true);
  assertEquals(listedButRefused.reasons.map((r) => r.code), ["listed", "auth-denied"]);
  // Without an identity's answers, nothing about auth is said.
  assertEquals(explainTool("a_get", { listed: all, unfiltered: all, status }).reasons.map((r) => r.code), [
    "listed",
  ]);
});
