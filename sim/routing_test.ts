import { assert, assertEquals } from "../test/helpers/assert.ts";
import { buildCatalog, serverKeys } from "./federation.ts";
import { attributeHeaders, backendParams, computeAttributes, renderAnnotationHints } from "./routing.ts";

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
  const hostile = buildCatalog(
    [{
      name: "ns/hostile",
      prefix: "",
      tools: [],
      prompts: [],
      resources: [],
      resourceTemplates: templates.map((uriTemplate, i) => ({ uriTemplate, name: `t${i}` })),
    }],
    serverKeys(["ns/hostile"]),
    "FilterOut",
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
