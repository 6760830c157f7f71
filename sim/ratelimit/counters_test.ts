import { assertEquals } from "../../test/helpers/assert.ts";
import { startRedis } from "../../test/helpers/redis.ts";
import { RedisSessionStore } from "../store_redis.ts";
import { type CounterStorage, MemoryCounters, RedisCounters } from "./counters.ts";

/** The same checks on any storage: fixed windows from the first hit, all-or-nothing counting. */
async function exercise(storage: CounterStorage, advance: (ms: number) => Promise<void>) {
  const a = { key: "p#a", limit: 2, windowMs: 1000 };
  const b = { key: "p#b", limit: 3, windowMs: 1000 };
  assertEquals((await storage.checkAndUpdate([a, b])).limitedAt, -1);
  assertEquals((await storage.checkAndUpdate([a, b])).limitedAt, -1);
  // `a` is exhausted: limited on it, and `b` does not count the refused request.
  const limited = await storage.checkAndUpdate([b, a]);
  assertEquals(limited.limitedAt, 1);
  assertEquals(limited.ttlMs > 0 && limited.ttlMs <= 1000, true, String(limited.ttlMs));
  assertEquals((await storage.checkAndUpdate([b])).limitedAt, -1);
  assertEquals((await storage.checkAndUpdate([b])).limitedAt, 0);
  const listed = Object.fromEntries((await storage.list()).map((c) => [c.key, c.value]));
  assertEquals(listed, { "p#a": 2, "p#b": 3 });
  await advance(1100);
  assertEquals((await storage.checkAndUpdate([a, b])).limitedAt, -1);
  assertEquals(Object.fromEntries((await storage.list()).map((c) => [c.key, c.value])), {
    "p#a": 1,
    "p#b": 1,
  });
}

Deno.test("MemoryCounters: Limitador's fixed windows and check-then-update", async () => {
  let now = 1_000_000;
  await exercise(new MemoryCounters({ now: () => now }), (ms) => {
    now += ms;
    return Promise.resolve();
  });
});

Deno.test("RedisCounters: the same in Redis, and an unreachable Redis throws, never passes", async () => {
  await using redis = await startRedis();
  const store = await RedisSessionStore.connect(redis.url, { commandTimeoutMs: 1000, keyPrefix: "t:" });
  try {
    const storage = new RedisCounters(store);
    await exercise(storage, (ms) => new Promise((r) => setTimeout(r, ms)));
    await redis.stop();
    let error: unknown;
    try {
      await storage.checkAndUpdate([{ key: "p#a", limit: 100, windowMs: 1000 }]);
    } catch (e) {
      error = e;
    }
    assertEquals((error as Error)?.name, "SessionStoreError");
  } finally {
    await store.close();
  }
});
