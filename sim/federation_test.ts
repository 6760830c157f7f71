import { assert, assertEquals } from "../test/helpers/assert.ts";
import {
  buildCatalog,
  decodeResourceUri,
  encodeResourceUri,
  rewriteResultUris,
  serverKeys,
  type ServerListing,
  validateTool,
} from "./federation.ts";

const tool = (name: string, inputSchema: unknown = { type: "object" }) => ({ name, inputSchema }) as never;
const listing = (name: string, prefix: string, extra: Partial<ServerListing> = {}): ServerListing => ({
  name,
  prefix,
  tools: [],
  prompts: [],
  resources: [],
  resourceTemplates: [],
  ...extra,
});

Deno.test("resource URIs round-trip through the per-server rewrite", () => {
  const keys = serverKeys(["ns/a", "NS/A", "weird name:1", "plain"]);
  assertEquals([...keys.values()], ["ns.a", "ns.a-2", "weird-name-1", "plain"]);
  for (const uri of ["file:///x/y", "ui://widget", "mcp+other:nested:uri", "weather://stations/{id}"]) {
    const d = decodeResourceUri(encodeResourceUri("ns.a", uri));
    assertEquals(d, { key: "ns.a", uri });
  }
  assertEquals(decodeResourceUri("file:///x"), undefined);
});

Deno.test("conflicts: first registered wins, the later server's tools are withheld and reported", () => {
  const keys = serverKeys(["a/one", "a/two"]);
  const cat = buildCatalog(
    [
      listing("a/one", "", { tools: [tool("search"), tool("x")] }),
      listing("a/two", "", { tools: [tool("search"), tool("y")], prompts: [{ name: "p" }] }),
    ],
    keys,
    "FilterOut",
  );
  assertEquals([...cat.tools.keys()], ["search", "x"]);
  assertEquals(cat.conflicts, [{ kind: "tool", name: "search", server: "a/one", conflictsWith: "a/two" }]);
  assertEquals([...cat.prompts.keys()], ["p"], "prompts are judged separately");
});

Deno.test("invalid tools: FilterOut drops the tool, RejectServer the server", () => {
  const keys = serverKeys(["s"]);
  const l = listing("s", "p_", { tools: [tool("ok"), tool("bad", { type: "strnig" })] });
  const filtered = buildCatalog([l], keys, "FilterOut");
  assertEquals([...filtered.tools.keys()], ["p_ok"]);
  assertEquals(filtered.invalidTools.map((t) => t.name), ["bad"]);
  const rejected = buildCatalog([l], keys, "RejectServer");
  assertEquals(rejected.tools.size, 0);
  assertEquals(rejected.rejectedServers, ["s"]);
  assert(validateTool(tool("n", { type: "object", properties: { q: { type: "strnig" } } })).length === 1);
  assert(validateTool(tool("n", null)).length === 1);
  assertEquals(
    validateTool(tool("n", { type: "object", properties: { q: { type: ["string", "null"] } } })),
    [],
  );
});

Deno.test("prefix-less servers keep their resource URIs; prefixed ones are rewritten", () => {
  const keys = serverKeys(["a/plain", "a/pre"]);
  const cat = buildCatalog(
    [
      listing("a/plain", "", {
        resources: [{ uri: "test://x", name: "x" }],
        resourceTemplates: [{ uriTemplate: "test://t/{id}", name: "t" }],
      }),
      listing("a/pre", "p_", { resources: [{ uri: "test://x", name: "x" }] }),
    ],
    keys,
    "FilterOut",
  );
  assertEquals(cat.resources.map((r) => r.uri), ["test://x", "mcp+a.pre:test://x"]);
  assertEquals(cat.plainResources.get("test://x"), "a/plain");
  assert(cat.plainTemplates[0].template.match("test://t/42"));
});

Deno.test("a server whose tool takes a meta-tool's name has its tools withheld, reported against the broker", () => {
  const listing = (name: string, prefix: string, tools: string[]) => ({
    name,
    prefix,
    tools: tools.map((t) => ({ name: t, inputSchema: { type: "object" as const } })),
    prompts: [],
    resources: [],
    resourceTemplates: [],
  });
  const cat = buildCatalog(
    [listing("a/plain", "", ["discover_tools", "other"]), listing("a/ok", "ok_", ["discover_tools"])],
    serverKeys(["a/plain", "a/ok"]),
    "FilterOut",
    new Map([["discover_tools", "broker"], ["select_tools", "broker"]]),
  );
  assertEquals([...cat.tools.keys()], ["ok_discover_tools"]);
  assertEquals(cat.conflicts, [{
    kind: "tool",
    name: "discover_tools",
    server: "broker",
    conflictsWith: "a/plain",
  }]);
});

Deno.test("rewriteResultUris: resource links, embedded resources and MCP Apps UI URIs become gateway URIs", () => {
  const result = {
    content: [
      { type: "text", text: "see the link" },
      { type: "resource_link", uri: "file:///notes.md", name: "notes" },
      { type: "resource", resource: { uri: "test://embedded", text: "inline" } },
      { type: "resource_link", uri: "mcp+ns.other:file:///already.md", name: "already" },
    ],
    _meta: { ui: { resourceUri: "ui://app/view.html" }, other: "kept" },
  };
  assertEquals(rewriteResultUris(result, "ns.srv"), true);
  assertEquals(result.content[1], {
    type: "resource_link",
    uri: "mcp+ns.srv:file:///notes.md",
    name: "notes",
  });
  assertEquals(result.content[2].resource, { uri: "mcp+ns.srv:test://embedded", text: "inline" });
  assertEquals(result.content[3].uri, "mcp+ns.other:file:///already.md");
  assertEquals(result._meta, { ui: { resourceUri: "mcp+ns.srv:ui://app/view.html" }, other: "kept" });
  assertEquals(decodeResourceUri(result.content[1].uri as string), {
    key: "ns.srv",
    uri: "file:///notes.md",
  });
  assertEquals(rewriteResultUris({ content: [{ type: "text", text: "x" }] }, "ns.srv"), false);
  assertEquals(rewriteResultUris("not an object", "ns.srv"), false);
});
