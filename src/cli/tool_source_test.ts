import { assertEquals } from "../../test/helpers/assert.ts";
import { startFixture } from "../../test/fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../../sim/mod.ts";
import { fetchStatus } from "./tool_source.ts";

/**
 * Broker v0.9.0 observed, verbatim (issue #11 observation file, section 3.11, `GET /status`, one server
 * kept): the cluster's `/status` has no prefixes, tool lists or meta-tools.
 */
const BROKER_STATUS =
  `{"servers":[{"id":"mcp-test/weather:weather_:weather.mcp.local","name":"mcp-test/weather","lastValidated":"2026-12-02T14:44:05.264435657Z","message":"server added successfully. Total tools added 2. Total prompts added 1","ready":true,"totalTools":2,"totalPrompts":1,"invalidTools":0,"invalidPrompts":0,"protocolValidation":{"isValid":true,"supportedVersion":"2025-11-25","expectedVersion":"2025-11-25"}}],"overallValid":true,"totalServers":1,"healthyServers":1,"unHealthyServers":0,"toolConflicts":0,"timestamp":"2026-12-02T14:44:19.989044216Z","scopedSessions":2}\n`;

Deno.test("fetchStatus takes the simulator's /status, not the cluster broker's of the same shape", async () => {
  const ac = new AbortController();
  const broker = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
    () => new Response(BROKER_STATUS, { headers: { "content-type": "application/json" } }),
  );
  try {
    assertEquals(await fetchStatus(`http://127.0.0.1:${broker.addr.port}/mcp`), undefined);
  } finally {
    ac.abort();
    await broker.finished;
  }
  await using weather = await startFixture("weather");
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "mcp-test/weather", url: weather.url, prefix: "weather_" }],
  }));
  const status = await fetchStatus(gw.url);
  assertEquals(status?.servers.map((s) => [s.name, s.tools.sort()]), [
    ["mcp-test/weather", ["weather_get_forecast", "weather_search"]],
  ]);
});
