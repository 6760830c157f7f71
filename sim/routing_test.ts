import { assert, assertEquals } from "../test/helpers/assert.ts";
import { buildCatalog, serverKeys, type ServerListing } from "./federation.ts";
import {
  attributeHeaders,
  backendParams,
  computeAttributes,
  renderAnnotationHints,
  resourceOwner,
} from "./routing.ts";

const listing = (name: string, prefix: string, extra: Partial<ServerListing>): ServerListing => ({
  name,
  prefix,
  tools: [],
  prompts: [],
  resources: [],
  resourceTemplates: [],
  ...extra,
});

const keys = serverKeys(["ns/gh"]);
const byKey = new Map([...keys].map(([n, k]) => [k, n]));
const catalog = buildCatalog(
  [{
    name: "ns/gh",
    prefix: "gh_",
    tools: [{
      name: "search",
      inputSchema: { type: "object" },
      annotations: { readOnlyHint: true, destructiveHint: false },
    }],
    prompts: [{ name: "review" }],
    resources: [],
    resourceTemplates: [],
  }],
  keys,
  "FilterOut",
);

Deno.test("attributes of a tools/call name the backend tool, server and hints", () => {
  const a = computeAttributes("tools/call", { name: "gh_search", arguments: {} }, catalog, byKey, "ns/vs");
  assertEquals(attributeHeaders(a), {
    "x-mcp-method": "tools/call",
    "x-mcp-toolname": "search",
    "x-mcp-servername": "ns/gh",
    "x-mcp-annotation-hints": "readOnly=true,destructive=false,idempotent=unspecified,openWorld=unspecified",
  });
  assertEquals(a.virtualServer, "ns/vs");
  assertEquals(backendParams(a, { name: "gh_search", arguments: { q: 1 } }), {
    name: "search",
    arguments: { q: 1 },
  });
});

Deno.test("attributes of prompts, resources, completions and unknown names", () => {
  const p = computeAttributes("prompts/get", { name: "gh_review" }, catalog, byKey);
  assertEquals([p.serverName, p.promptName], ["ns/gh", "review"]);
  const r = computeAttributes("resources/read", { uri: "mcp+ns.gh:gh://readme" }, catalog, byKey);
  assertEquals([r.serverName, r.resourceUri], ["ns/gh", "gh://readme"]);
  const c = computeAttributes(
    "completion/complete",
    { ref: { type: "ref/prompt", name: "gh_review" } },
    catalog,
    byKey,
  );
  assertEquals(backendParams(c, { ref: { type: "ref/prompt", name: "gh_review" } }), {
    ref: { type: "ref/prompt", name: "review" },
  });
  const u = computeAttributes("tools/call", { name: "nope" }, catalog, byKey);
  assertEquals([u.serverName, u.requestedName], [undefined, "nope"]);
  assertEquals(computeAttributes("tools/list", undefined, catalog, byKey), { method: "tools/list" });
  assertEquals(
    renderAnnotationHints(undefined),
    "readOnly=unspecified,destructive=unspecified,idempotent=unspecified,openWorld=unspecified",
  );
});

Deno.test("hostile URI templates cannot pin the CPU: routing a long URI that matches none is bounded", () => {
  const vars = (n: number, op = "") => Array.from({ length: n }, (_, i) => `{${op}v${i}*}a`).join("");
  const templates = [`h://${vars(26)}{z}/end`, `h://x${vars(26, "/")}{/z}/end`];
  // A second server with resources: otherwise every URI would go to the only one, unmatched.
  const hostile = buildCatalog(
    [
      listing("ns/hostile", "", {
        resourceTemplates: templates.map((uriTemplate, i) => ({ uriTemplate, name: `t${i}` })),
      }),
      listing("ns/other", "o_", { resources: [{ uri: "o://x", name: "x" }] }),
    ],
    serverKeys(["ns/hostile", "ns/other"]),
    "FilterOut",
    new Map(),
    { federateAll: true },
  );
  for (const uri of ["h://" + "a".repeat(10_000) + "?/end", "h://x" + "/a".repeat(5_000) + "?/end"]) {
    const t0 = performance.now();
    const a = computeAttributes("resources/read", { uri }, hostile, new Map());
    const ms = performance.now() - t0;
    assertEquals(a.serverName, undefined);
    // The backtracking regular expression this replaced did not finish in an hour.
    assert(ms < 500, `routing took ${Math.round(ms)} ms`);
  }
});

Deno.test("federateAll: a URI the gateway did not issue goes to the one server that can own it, else names the candidates", () => {
  const servers = [
    listing("ns/weather", "weather_", {
      resources: [{ uri: "weather://stations/list", name: "l" }, {
        uri: "weather://stations/ber",
        name: "b",
      }],
      resourceTemplates: [{ uriTemplate: "weather://stations/{id}", name: "t" }],
    }),
    listing("ns/apps", "apps_", {
      resources: [{ uri: "ui://forecast.html", name: "f" }, { uri: "weather://stations/list", name: "l" }],
      resourceTemplates: [{ uriTemplate: "weather://{+any}", name: "any" }],
    }),
    listing("ns/docs", "", { resources: [{ uri: "docs://readme", name: "r" }] }),
    listing("ns/tools", "t_", {}),
  ];
  const keys = serverKeys(servers.map((l) => l.name));
  const byKey = new Map([...keys].map(([n, k]) => [k, n]));
  const cat = buildCatalog(servers, keys, "FilterOut", new Map(), { federateAll: true });
  const read = (uri: string) => computeAttributes("resources/read", { uri }, cat, byKey);
  // The gateway's own URIs decode; a server's own URI listed by one server goes there as it is.
  assertEquals(read("mcp+ns.apps:ui://forecast.html").serverName, "ns/apps");
  for (const [uri, server] of [["ui://forecast.html", "ns/apps"], ["docs://readme", "ns/docs"]]) {
    const a = read(uri);
    assertEquals([a.serverName, a.resourceUri, a.unroutable], [server, uri, undefined], uri);
    assertEquals(backendParams(a, { uri }), { uri });
  }
  // An exact listing beats templates; templates of one server only (the others' do not match).
  assertEquals(read("weather://stations/ber").serverName, "ns/weather");
  assertEquals(read("weather://stations/xyz").serverName, undefined, "two servers' templates match");
  const ambiguous = read("weather://stations/list");
  assertEquals(ambiguous.serverName, undefined);
  assertEquals(
    ambiguous.unroutable,
    "Resource weather://stations/list is listed by more than one server (ns/apps, ns/weather): read it " +
      "by the mcp+ URI resources/list gives for the one you mean (servers without a prefix have none).",
  );
  assertEquals(
    read("weather://stations/xyz").unroutable,
    "Resource weather://stations/xyz matches URI templates of more than one server (ns/apps, ns/weather): " +
      "read it by the mcp+ URI resources/list gives for the one you mean.",
  );
  assertEquals(read("weather://elsewhere").serverName, "ns/apps", "one server's template");
  assertEquals(
    read("nothing://x").unroutable,
    "Resource nothing://x was not issued by this gateway and no server lists it or has a URI template " +
      "for it; the servers with resources are ns/apps, ns/docs, ns/weather.",
  );
  // An mcp+ URI of no server is unknown, not guessed at.
  assertEquals([read("mcp+nobody:docs://readme").serverName, read("mcp+nobody:x").unroutable], [
    undefined,
    undefined,
  ]);
  // Completions name a template by its text; subscriptions route as reads.
  const ref = computeAttributes(
    "completion/complete",
    { ref: { type: "ref/resource", uri: "weather://stations/{id}" }, argument: { name: "id", value: "" } },
    cat,
    byKey,
  );
  assertEquals(ref.serverName, "ns/weather");
  assertEquals(
    computeAttributes("resources/subscribe", { uri: "docs://readme" }, cat, byKey).serverName,
    "ns/docs",
  );

  // The only server with resources gets every URI, listed or not.
  const one = buildCatalog([servers[2], servers[3]], keys, "FilterOut", new Map(), { federateAll: true });
  assertEquals(resourceOwner(one.resourceRoutes!, "docs://other"), { server: "ns/docs" });
  // By default no resource is routed at all (the cluster's broker answers -32601).
  const plain = buildCatalog(servers, keys, "FilterOut");
  assertEquals(
    computeAttributes("resources/read", { uri: "docs://readme" }, plain, byKey).serverName,
    undefined,
  );
});
