/**
 * The server set on its own: real fixture servers, its catalog and lookups, and what it tells the
 * rest of the gateway (lists changed, servers dropped) when the config is reloaded.
 */
import { assert, assertEquals } from "../test/helpers/assert.ts";
import { startFixture } from "../test/fixtures/mod.ts";
import { recordedServerSet, unreachableUrl } from "../test/sim_stages.ts";
import { normalizeConfig } from "./config.ts";

const ALL = { tools: true, prompts: true, resources: true };

Deno.test("start: every enabled server is listed into the catalog; lookups by name and key", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  await using r = recordedServerSet({
    servers: [
      { name: "test/weather", url: weather.url, prefix: "w_" },
      { name: "test/github", url: github.url, prefix: "g_" },
      { name: "test/off", url: "http://127.0.0.1:9/mcp", prefix: "o_", enabled: false },
    ],
    virtualServers: [{ name: "ns/vs", tools: ["w_search"] }],
  });
  const { set } = r;
  await set.start();
  assertEquals([...set.catalog.tools.keys()].sort(), [
    "g_create_issue",
    "g_delete_issue",
    "g_get_issue",
    "g_search",
    "w_get_forecast",
    "w_search",
  ]);
  assertEquals(set.catalog.tools.get("w_search")?.backendName, "search");
  assertEquals(set.catalog.tools.get("g_search")?.server, "test/github");
  assertEquals([...set.catalog.prompts.keys()].sort(), ["g_review_pr", "w_forecast_summary"]);
  assertEquals(set.pending(), []);
  assertEquals(set.upstream("test/weather")?.state, "ready");
  assertEquals(set.upstream("test/off")?.state, "disabled");
  assertEquals(set.upstream("test/nope"), undefined);
  // By default no URI carries a server key, as the cluster's broker issues none (federateAll below).
  assertEquals([set.key("test/weather"), set.serverByKey.size], [undefined, 0]);
  assertEquals(set.virtualServer("ns/vs"), { name: "ns/vs", tools: ["w_search"] });
  assertEquals(set.virtualServer("ns/other"), undefined);
  // The first build told the (no) sessions about every list; nothing was dropped.
  assertEquals(r.changes.at(-1), ALL);
  assertEquals(r.dropped, []);
});

Deno.test("federateAll: keys name servers in resource URIs, and lead back to them", async () => {
  await using weather = await startFixture("weather");
  await using r = recordedServerSet(
    { servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }] },
    5000,
    { federateAll: true },
  );
  await r.set.start();
  const key = r.set.key("test/weather")!;
  assertEquals(r.set.serverByKey.get(key), "test/weather");
  assert(r.set.catalog.resources.every((res) => res.uri.startsWith(`mcp+${key}:`)));
});

// Fails before this change: pending() was [] until start() had created the upstreams, so /readyz
// said ok while a gateway on a shared store was still fetching its signing key.
Deno.test("pending: enabled servers that have not answered yet, from before start; a failed first attempt counts as an answer", async () => {
  await using weather = await startFixture("weather");
  // A port nothing listens on: the first round fails at once.
  const deadUrl = unreachableUrl();
  await using r = recordedServerSet({
    servers: [
      { name: "test/weather", url: weather.url, prefix: "w_" },
      { name: "test/dead", url: deadUrl, prefix: "d_" },
      { name: "test/off", url: deadUrl, enabled: false },
    ],
  });
  assertEquals(r.set.pending(), ["test/weather", "test/dead"]);
  const starting = r.set.start();
  assertEquals(r.set.pending(), ["test/weather", "test/dead"]);
  await starting;
  assertEquals(r.set.pending(), []);
  assertEquals(r.set.upstream("test/dead")?.state, "connecting");
  assert(r.set.upstream("test/dead")?.lastError, "the failed attempt is kept");
  assertEquals([...r.set.catalog.tools.keys()].sort(), ["w_get_forecast", "w_search"]);
});

Deno.test("reload: a server added or removed changes exactly its lists and drops it by name", async () => {
  await using weather = await startFixture("weather");
  await using slow = await startFixture("slow");
  const weatherOnly = { name: "test/weather", url: weather.url, prefix: "w_" };
  const slowServer = { name: "test/slow", url: slow.url, prefix: "s_" };
  await using r = recordedServerSet({ servers: [weatherOnly] });
  const { set } = r;
  await set.start();
  r.changes.length = 0;

  // slow has tools only: prompts and resources stay as they were.
  await set.reload(normalizeConfig({ servers: [weatherOnly, slowServer] }));
  assertEquals(r.changes, [{ tools: true, prompts: false, resources: false }]);
  assertEquals(r.dropped, []);
  assert(set.catalog.tools.has("s_sleep"));

  r.changes.length = 0;
  await set.reload(normalizeConfig({ servers: [slowServer] }));
  assertEquals(r.changes, [ALL]);
  assertEquals(r.dropped, ["test/weather"]);
  assertEquals(set.upstream("test/weather"), undefined);
  assertEquals(set.key("test/weather"), undefined);
  assert(!set.catalog.tools.has("w_search"));

  // A changed registration reconnects (dropped, then listed again under its new prefix).
  r.changes.length = 0;
  await set.reload(normalizeConfig({ servers: [{ ...slowServer, prefix: "z_" }] }));
  assertEquals(r.dropped, ["test/weather", "test/slow"]);
  assertEquals(r.changes.at(-1), { tools: true, prompts: false, resources: false });
  assert(set.catalog.tools.has("z_sleep") && !set.catalog.tools.has("s_sleep"));

  // Virtual servers alone change no list and drop no server.
  r.changes.length = 0;
  await set.reload(normalizeConfig({
    servers: [{ ...slowServer, prefix: "z_" }],
    virtualServers: [{ name: "ns/vs", tools: ["z_echo"] }],
  }));
  assertEquals(r.changes, []);
  assertEquals(r.dropped, ["test/weather", "test/slow"]);
  assertEquals(set.virtualServer("ns/vs")?.tools, ["z_echo"]);
});

Deno.test("meta-tools: discovery on by default, off by reload; tags add the tag tools", async () => {
  await using slow = await startFixture("slow");
  const server = { name: "test/slow", url: slow.url, prefix: "s_" };
  await using r = recordedServerSet({ servers: [server] });
  const { set } = r;
  await set.start();
  assertEquals([...set.metaNames], ["discover_tools", "select_tools"]);
  assertEquals(set.metaTools.map((t) => t.name), ["discover_tools", "select_tools"]);
  r.changes.length = 0;

  await set.reload(normalizeConfig({ servers: [server], extension: { discoveryTools: false } }));
  assertEquals([...set.metaNames], []);
  assertEquals(r.changes, [{ tools: true, prompts: false, resources: false }]);
  assertEquals(r.dropped, [], "a meta-tool change reconnects no server");

  r.changes.length = 0;
  await set.reload(normalizeConfig({
    servers: [{ ...server, tags: ["slow"] }],
    extension: { discoveryTools: false },
  }));
  assertEquals([...set.metaNames], ["list_tags", "filter_tools_by_tags"]);
  assertEquals(r.changes.at(-1), { tools: true, prompts: false, resources: false });
});
