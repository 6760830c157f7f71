/** Discovery and tags meta-tools as pure functions over a gateway view. */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals, assertStringIncludes } from "../test/helpers/assert.ts";
import type { ServerConfig } from "./config.ts";
import {
  applyDiscovery,
  discoverTools,
  type DiscoveryView,
  filterToolsByTags,
  listTags,
  MAX_SELECT_TOOLS,
  metaTools,
  selectTools,
  ToolScopes,
} from "./discovery.ts";
import type { FederatedTool } from "./federation.ts";

const server = (name: string, prefix: string, extra: Partial<ServerConfig> = {}): ServerConfig => ({
  name,
  url: "http://127.0.0.1:1/mcp",
  prefix,
  enabled: true,
  path: "/mcp",
  ...extra,
});

const tool = (name: string): Tool => ({ name, inputSchema: { type: "object" } });

const SERVERS = [
  server("team/weather", "w_", { category: ["Data"], hint: "Forecasts", tags: ["public", "read"] }),
  server("team/github", "gh_", { category: ["code", "data"], tags: ["read"] }),
  server("team/empty", "e_"),
];

function view(names: Record<string, string[]>): DiscoveryView {
  const visible = new Map<string, FederatedTool>();
  for (const [serverName, tools] of Object.entries(names)) {
    const prefix = SERVERS.find((s) => s.name === serverName)!.prefix;
    for (const t of tools) {
      visible.set(prefix + t, { server: serverName, backendName: t, tool: tool(prefix + t) });
    }
  }
  return { servers: SERVERS, visible };
}

const ALL = view({ "team/weather": ["search", "forecast"], "team/github": ["search"] });
const json = (r: CallToolResult) => JSON.parse((r.content[0] as { text: string }).text);
const errorText = (r: CallToolResult) => {
  assertEquals(r.isError, true, JSON.stringify(r));
  return (r.content[0] as { text: string }).text;
};

Deno.test("metaTools: discovery tools unless turned off, tags tools while any server has tags", () => {
  const names = (servers: ServerConfig[], discovery: boolean) =>
    metaTools(servers, discovery).map((t) => t.name);
  assertEquals(names(SERVERS, true), ["discover_tools", "select_tools", "list_tags", "filter_tools_by_tags"]);
  assertEquals(names([server("a/b", "")], true), ["discover_tools", "select_tools"]);
  assertEquals(names([server("a/b", "")], false), []);
});

Deno.test("applyDiscovery: a scope keeps its tools and the meta-tools; above the threshold only meta-tools", () => {
  const meta = new Set(["discover_tools", "select_tools"]);
  const tools = ["w_search", "w_forecast", "gh_search", "discover_tools", "select_tools"].map(tool);
  const names = (ts: Tool[]) => ts.map((t) => t.name);
  assertEquals(names(applyDiscovery(tools, meta, undefined, 0)), names(tools));
  assertEquals(
    names(applyDiscovery(tools, meta, undefined, 3)),
    names(tools),
    "3 federated tools is not above 3",
  );
  assertEquals(names(applyDiscovery(tools, meta, undefined, 2)), ["discover_tools", "select_tools"]);
  assertEquals(names(applyDiscovery(tools, meta, new Set(["gh_search"]), 2)), [
    "gh_search",
    "discover_tools",
    "select_tools",
  ]);
});

Deno.test("discover_tools: servers with visible tools, sorted, default category, category filter ignores case", () => {
  assertEquals(json(discoverTools({}, ALL)), {
    servers: [
      { name: "team/github", categories: ["code", "data"], tools: ["gh_search"] },
      { name: "team/weather", categories: ["Data"], hint: "Forecasts", tools: ["w_search", "w_forecast"] },
    ],
  });
  assertEquals(json(discoverTools({ category: "DATA" }, ALL)).servers.length, 2);
  assertEquals(json(discoverTools({ category: "code" }, ALL)).servers.map((s: { name: string }) => s.name), [
    "team/github",
  ]);
  const withEmpty = view({ "team/empty": ["x"] });
  assertEquals(json(discoverTools({ category: "uncategorised" }, withEmpty)).servers[0].categories, [
    "uncategorised",
  ]);
  // As broker v0.9.0 (observation 3.4): a category that is not a string is ignored, no error.
  for (const category of [7, ["code"], null, { a: 1 }]) {
    assertEquals(
      json(discoverTools({ category }, ALL)),
      json(discoverTools({}, ALL)),
      JSON.stringify(category),
    );
  }
});

Deno.test("meta-tools: the broker's descriptions and schemas, and annotations {}", () => {
  const [discover, select, tags, filter] = metaTools(SERVERS, true);
  // Observation 3.3, verbatim (discovery.go:102-147); the tags tools from tags_handler.go:18-44.
  assertEquals(discover, {
    name: "discover_tools",
    description:
      "Browse available servers and tools. Returns server names, categories, hints, and tool names without full schemas. Use the optional category parameter to filter by category.",
    inputSchema: {
      type: "object",
      properties: {
        category: {
          type: "string",
          description:
            "Filter servers by category (case-insensitive match against any element in the server's category list)",
        },
      },
    },
    annotations: {},
  });
  assertEquals(select, {
    name: "select_tools",
    description:
      "Scope your session to a specific set of tools. After calling this, subsequent tools/list calls will return only the selected tools with full schemas. Pass an empty list to reset to the full tool set.",
    inputSchema: {
      type: "object",
      properties: {
        tools: {
          type: "array",
          description:
            "List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.",
          items: { type: "string" },
        },
      },
      required: ["tools"],
    },
    annotations: {},
  });
  assertEquals([tags.description, tags.inputSchema, tags.annotations], [
    "List all tags across registered MCP servers",
    { type: "object" },
    {},
  ]);
  assertEquals(
    filter.description,
    "Return tools available through the gateway that match all of the given tags",
  );
  assertEquals(filter.inputSchema.required, ["tags"]);
});

Deno.test("select_tools: sets, resets, and refuses what the session cannot see, naming it", () => {
  const meta = new Set(["discover_tools", "select_tools"]);
  const set = selectTools({ tools: ["w_search", "gh_search"] }, ALL, meta);
  assertEquals(set.scope, ["w_search", "gh_search"]);
  assertEquals(json(set.result), { status: "scope set to 2 tools", tools: ["w_search", "gh_search"] });
  const reset = selectTools({ tools: [] }, ALL, meta);
  assertEquals(reset.scope, []);
  assertEquals(json(reset.result), { status: "scope reset to all tools" });
  for (
    const [args, expected] of [
      [{}, 'needs "tools"'],
      [{ tools: "w_search" }, '"tools" must be a list of strings'],
      [{ tools: ["w_search", 3] }, '"tools[1]" must be a string'],
      [{ tools: ["w_nope", "w_search", "gh_nope"] }, "w_nope, gh_nope are not available to this session"],
      [{ tools: ["select_tools"] }, "select_tools cannot be selected"],
      [{ tools: Array.from({ length: MAX_SELECT_TOOLS + 1 }, () => "w_search") }, "at most 250 tools; 251"],
    ] as const
  ) {
    const outcome = selectTools(args as Record<string, unknown>, ALL, meta);
    assertEquals(outcome.scope, undefined, JSON.stringify(args));
    assertStringIncludes(errorText(outcome.result), expected);
  }
});

Deno.test("ToolScopes: an empty selection removes the scope; sessions are independent", () => {
  const scopes = new ToolScopes();
  scopes.set("a", ["x"]);
  scopes.set("b", ["y", "z"]);
  assert(scopes.get("a")?.has("x") && !scopes.get("a")?.has("y"));
  scopes.set("a", []);
  assertEquals([scopes.get("a"), scopes.size], [undefined, 1]);
  scopes.delete("b");
  assertEquals(scopes.size, 0);
});

Deno.test("list_tags and filter_tools_by_tags: only servers with visible tools; every tag must match", () => {
  assertEquals(json(listTags(ALL)), ["public", "read"]);
  assertEquals(json(listTags(view({ "team/github": ["search"] }))), ["read"]);
  const names = (r: CallToolResult) => json(r).map((t: Tool) => t.name);
  assertEquals(names(filterToolsByTags({ tags: ["read"] }, ALL)), ["w_search", "w_forecast", "gh_search"]);
  assertEquals(names(filterToolsByTags({ tags: ["read", "public"] }, ALL)), ["w_search", "w_forecast"]);
  assertEquals(names(filterToolsByTags({ tags: ["nope"] }, ALL)), []);
  assertStringIncludes(errorText(filterToolsByTags({}, ALL)), 'needs "tags"');
  assertStringIncludes(errorText(filterToolsByTags({ tags: [] }, ALL)), "must not be empty");
  assertStringIncludes(errorText(filterToolsByTags({ tags: [""] }, ALL)), "must not contain empty strings");
});
