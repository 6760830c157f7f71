import { assert, assertEquals } from "../test/helpers/assert.ts";
import {
  buildCatalog,
  CLUSTER_CONFLICT_NOTE,
  decodeResourceUri,
  encodeResourceUri,
  JsonListCache,
  prefixUiUri,
  rewriteResultUris,
  servedTool,
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

Deno.test("conflicts: the first listing wins, the later server's tools are all withheld and reported", () => {
  const keys = serverKeys(["a/one", "a/two"]);
  const one = listing("a/one", "", { tools: [tool("search"), tool("x")] });
  const two = listing("a/two", "", { tools: [tool("search"), tool("y")], prompts: [{ name: "p" }] });
  const cat = buildCatalog([one, two], keys, "FilterOut");
  assertEquals([...cat.tools.keys()], ["search", "x"]);
  assertEquals(cat.conflicts, [{
    kind: "tool",
    name: "search",
    server: "a/one",
    conflictsWith: "a/two",
    message: "Tool search of server a/two conflicts with server a/one, whose tool list arrived first; " +
      `every tool of a/two is withheld (its prompts are still served). ${CLUSTER_CONFLICT_NOTE}`,
  }]);
  assertEquals([...cat.prompts.keys()], ["p"], "prompts are judged separately");
  // The order given is the order the lists arrived, whatever the config says.
  const swapped = buildCatalog([two, one], keys, "FilterOut");
  assertEquals([...swapped.tools.keys()], ["search", "y"]);
  assertEquals(swapped.conflicts.map((c) => [c.server, c.conflictsWith]), [["a/two", "a/one"]]);
});

Deno.test("invalid tools: FilterOut drops the tool, RejectServer the server", () => {
  const keys = serverKeys(["s"]);
  const l = listing("s", "p_", { tools: [tool("ok"), tool("bad", { type: "strnig" })] });
  const filtered = buildCatalog([l], keys, "FilterOut");
  assertEquals([...filtered.tools.keys()], ["p_ok"]);
  assertEquals(filtered.invalidTools.map((t) => t.name), ["bad"]);
  const rejected = buildCatalog(
    [{ ...l, prompts: [{ name: "p" }], resources: [{ uri: "ui://x", name: "x" }] }],
    keys,
    "RejectServer",
  );
  assertEquals(rejected.tools.size, 0);
  assertEquals(rejected.rejectedServers, ["s"]);
  // As the broker: RejectServer withdraws the tools; prompts and resources are judged apart.
  assertEquals([...rejected.prompts.keys()], ["p_p"]);
  assertEquals(rejected.resources.map((r) => r.uri), ["ui://p_x"]);
  assert(validateTool(tool("n", { type: "object", properties: { q: { type: "strnig" } } })).length === 1);
  assert(validateTool(tool("n", null)).length === 1);
  assertEquals(
    validateTool(tool("n", { type: "object", properties: { q: { type: ["string", "null"] } } })),
    [],
  );
});

Deno.test("federateAll: prefix-less servers keep their resource URIs; prefixed ones are rewritten", () => {
  const keys = serverKeys(["a/plain", "a/pre", "a/again", "a/tools"]);
  const cat = buildCatalog(
    [
      listing("a/plain", "", {
        resources: [{ uri: "test://x", name: "x" }],
        resourceTemplates: [{ uriTemplate: "test://t/{id}", name: "t" }],
      }),
      listing("a/pre", "p_", { resources: [{ uri: "test://x", name: "x" }] }),
      listing("a/again", "", { resources: [{ uri: "test://x", name: "x" }] }),
      listing("a/tools", "", { tools: [tool("t")] }),
    ],
    keys,
    "FilterOut",
    new Map(),
    { federateAll: true },
  );
  // A URI two prefix-less servers list is shown once.
  assertEquals(cat.resources.map((r) => r.uri), ["test://x", "mcp+a.pre:test://x"]);
  assertEquals(cat.resourceTemplates.map((t) => t.uriTemplate), ["test://t/{id}"]);
  // Every server's own URIs and templates, for URIs the gateway did not issue.
  const routes = cat.resourceRoutes!;
  assertEquals(routes.servers, ["a/plain", "a/pre", "a/again"], "servers with resources");
  assertEquals(routes.exact.get("test://x"), ["a/plain", "a/pre", "a/again"]);
  assertEquals(routes.exact.get("test://t/{id}"), ["a/plain"]);
  assert(routes.templates[0].template.match("test://t/42"));
  assertEquals(routes.templates.map((t) => t.server), ["a/plain"]);
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
    message: "Tool discover_tools of server a/plain has the name of a gateway meta-tool; " +
      "every tool of a/plain is withheld (its prompts are still served).",
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

Deno.test("default resources: prefixed servers' lists concatenated, ui:// URIs prefixed, no templates", () => {
  const keys = serverKeys(["a/w", "a/g", "a/plain", "a/bad"]);
  const stations = { uri: "weather://stations/list", name: "stations" };
  const cat = buildCatalog(
    [
      listing("a/w", "weather_", {
        resources: [stations, { uri: "ui://forecast.html", name: "ui" }],
        resourceTemplates: [{ uriTemplate: "weather://stations/{id}", name: "t" }],
      }),
      listing("a/g", "g", { resources: [stations] }),
      // Broker v0.9.0 lists no resources of a server without a prefix, or with one it will not put
      // into a URI (broker.go:884-891).
      listing("a/plain", "", { resources: [{ uri: "ui://plain.html", name: "plain" }] }),
      listing("a/bad", "Bad-", { resources: [{ uri: "ui://bad.html", name: "bad" }] }),
    ],
    keys,
    "FilterOut",
  );
  assertEquals(cat.resources.map((r) => r.uri), [
    "weather://stations/list",
    "ui://weather_forecast.html",
    "weather://stations/list",
  ]);
  assertEquals(cat.resourceTemplates, []);
  assertEquals(cat.resourceRoutes, undefined, "no resource is routed");
});

Deno.test("prefixUiUri: the prefix goes into a ui:// authority, as broker v0.9.0 rewrites it", () => {
  // Observation 3.6 (broker.go:958-980): the separator is added when missing, userinfo dropped,
  // path and query kept; anything not ui:// is unchanged. Every case was also run through the
  // broker's function with Go's net/url (go1.26).
  const cases: Array<[string, string, string]> = [
    ["ui://forecast.html", "apps_", "ui://apps_forecast.html"],
    ["ui://forecast.html", "apps", "ui://apps_forecast.html"],
    ["ui://widgets/chart.html?v=1", "apps", "ui://apps_widgets/chart.html?v=1"],
    ["ui://user:secret@panel/index.html", "apps", "ui://apps_panel/index.html"],
    ["ui://a@b@panel#top", "p_", "ui://p_panel#top"],
    ["UI://Upper.html", "p_", "ui://p_Upper.html"],
    ["ui://host:8080/x", "p_", "ui://p_host:8080/x"],
    ["ui:///only/path", "p_", "ui://p_/only/path"],
    ["ui:/path", "p_", "ui://p_/path"],
    ["ui:", "p_", "ui://p_"],
    ["ui://", "p_", "ui://p_"],
    ["ui://[::1]:80/x", "p_", "ui://p_[::1]:80/x"],
    ["ui://h/%41?q=a b&r=%zz", "p_", "ui://p_h/%41?q=a b&r=%zz"],
    ["ui://h%25/x", "p_", "ui://p_h%25/x"],
    // Go's parser refuses these, and the broker then lists the URI as it is.
    ["ui://host:port/x", "p_", "ui://host:port/x"],
    ["ui://bad\nline", "p_", "ui://bad\nline"],
    ["ui://a b/c", "p_", "ui://a b/c"],
    ["ui://h%zz/x", "p_", "ui://h%zz/x"],
    ["ui://h%41/x", "p_", "ui://h%41/x"],
    ["ui://h/%zz", "p_", "ui://h/%zz"],
    ["ui://h/x#%zz", "p_", "ui://h/x#%zz"],
    // Opaque, or not ui://: unchanged.
    ["ui:opaque", "p_", "ui:opaque"],
    ["weather://stations/list", "p_", "weather://stations/list"],
    ["uix://a", "p_", "uix://a"],
    ["docs://readme", "notpl_", "docs://readme"],
  ];
  for (const [uri, prefix, expected] of cases) assertEquals(prefixUiUri(uri, prefix), expected, uri);
});

Deno.test("servedTool: annotations always, {} when none; by default only the broker's fields", () => {
  const upstream = {
    name: "show",
    title: "Show",
    description: "",
    inputSchema: { type: "object" as const },
    outputSchema: { type: "object" as const },
    _meta: { ui: { resourceUri: "ui://forecast.html" } },
    execution: { taskSupport: "forbidden" as const },
    icons: [],
  };
  assertEquals(servedTool(upstream, "p_show", false), {
    name: "p_show",
    annotations: {},
    title: "Show",
    inputSchema: { type: "object" },
    outputSchema: { type: "object" },
  });
  assertEquals(servedTool(upstream, "p_show", true), { ...upstream, name: "p_show", annotations: {} });
  const annotated = {
    name: "a",
    inputSchema: { type: "object" as const },
    annotations: { readOnlyHint: true },
  };
  assertEquals(servedTool(annotated, "a", false).annotations, { readOnlyHint: true });
});

Deno.test("JsonListCache: the same items in the same order give the cached text; others are serialised anew", () => {
  const cache = new JsonListCache(2);
  const a = { name: "a", annotations: {} };
  const b = { name: "b", description: "é😀" };
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const first = cache.json([a, b]);
  assertEquals(text(first), JSON.stringify([a, b]));
  assert(cache.json([a, b]) === first, "a new array of the same items is served from the cache");
  assertEquals(text(cache.json([b, a])), JSON.stringify([b, a]));
  // An equal but different object is a different item: catalog entries are replaced, never changed.
  const a2 = { ...a, description: "changed" };
  assertEquals(text(cache.json([a2, b])), JSON.stringify([a2, b]));
  // At most 2 lists: [a, b] was used least recently and is serialised again.
  assert(cache.json([a, b]) !== first);
  assertEquals(text(cache.json([])), "[]");
});
