/** The gateway's `/metrics` against a real fixture: label values stay in fixed sets whatever clients send. */
import { assertEquals } from "./helpers/assert.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { post } from "./sim_helpers.ts";

Deno.test("metrics: random methods from clients without a session add no series", async () => {
  await using weather = await startFixture("weather");
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "test/weather", url: weather.url, prefix: "" }] }),
  );
  const metrics = async () => await (await fetch(gw.url.replace(/mcp$/, "metrics"))).text();
  const series = (text: string) =>
    text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(" ")[0]);
  await post(gw.url, { jsonrpc: "2.0", id: 0, method: "no/such-method" });
  const before = series(await metrics());
  for (let i = 0; i < 300; i++) {
    const r = await post(gw.url, { jsonrpc: "2.0", id: i, method: `random/${crypto.randomUUID()}` });
    assertEquals(r.status, 400);
  }
  assertEquals(series(await metrics()), before);
});
