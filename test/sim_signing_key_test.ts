/**
 * Gateway replicas on one Redis agree on the session signing key even when Redis loses it (a
 * restart without persistence, FLUSHALL): a real `redis-server`, real gateways, a real fixture.
 */
import { assertEquals } from "./helpers/assert.ts";
import { startRedis } from "./helpers/redis.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, RedisSessionStore, startGateway } from "../sim/mod.ts";
import { post, rawSession } from "./sim_helpers.ts";

Deno.test("replicas converge on one signing key after Redis loses it: every session works on every replica", async () => {
  await using redis = await startRedis();
  await using weather = await startFixture("weather");
  const config = normalizeConfig({
    servers: [{ name: "test/weather", url: weather.url, prefix: "weather_" }],
  });
  await using storeA = await RedisSessionStore.connect(redis.url);
  await using storeB = await RedisSessionStore.connect(redis.url);
  await using a = await startGateway(config, { store: storeA });
  await using b = await startGateway(config, { store: storeB });
  /** The status of a tools/list on `url` in session `s`. */
  const list = async (url: string, s: { headers: Record<string, string> }) =>
    (await post(url, { jsonrpc: "2.0", id: 2, method: "tools/list" }, s.headers)).status;

  const early = await rawSession(a.url);
  assertEquals(await list(b.url, early), 200, "one key from the start");

  assertEquals((await redis.command("FLUSHALL")).trim(), "+OK");
  // A replica started now finds no key and makes one; A and B hold the old one.
  await using storeC = await RedisSessionStore.connect(redis.url);
  await using c = await startGateway(config, { store: storeC });

  const replicas = { a, b, c };
  for (const [from, issuer] of Object.entries(replicas)) {
    const s = await rawSession(issuer.url);
    for (const [to, other] of Object.entries(replicas)) {
      assertEquals(await list(other.url, s), 200, `a session from ${from} on ${to}`);
    }
  }
});
