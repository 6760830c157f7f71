/**
 * The `SessionStore` contract, run against the memory store and against a real `redis-server`, plus
 * what only Redis does: sharing between clients, TTLs, the shared signing key, outages.
 */
import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import { startRedis, type TestRedis } from "../test/helpers/redis.ts";
import { MemorySessionStore, type SessionStore, SessionStoreError } from "./store.ts";
import { isClusterInternalHost, maskRedisUrl, parseRedisUrl, RedisSessionStore } from "./store_redis.ts";
import { GatewayConfigError } from "./errors.ts";

type Close = { close?(): Promise<void> };

/** The behaviour every store must have. */
function contract(name: string, open: () => Promise<{ store: SessionStore & Close; done(): Promise<void> }>) {
  Deno.test(`${name}: create, get, delete`, async () => {
    const { store, done } = await open();
    try {
      assertEquals(await store.get("a"), undefined);
      const record = {
        createdAt: 1,
        protocolVersion: "2025-06-18",
        clientInfo: { name: "c", version: "1" },
        clientCapabilities: { elicitation: {} },
      };
      assertEquals(await store.touch("a"), false);
      await store.create("a", record);
      assertEquals(await store.get("a"), record);
      assertEquals(await store.touch("a"), true);
      assertEquals(await store.count(), 1);
      await store.create("b", { createdAt: 2 });
      assertEquals(await store.count(), 2);
      await store.delete("a");
      assertEquals(await store.get("a"), undefined);
      assertEquals(await store.touch("a"), false);
      assertEquals(await store.count(), 1);
      await store.delete("a");
      assertEquals(await store.get("b"), { createdAt: 2 });
    } finally {
      await done();
    }
  });

  Deno.test(`${name}: backend mappings live and die with their session`, async () => {
    const { store, done } = await open();
    try {
      await store.create("s", { createdAt: 1 });
      assertEquals(await store.getBackend("s", "ns/weather"), undefined);
      await store.setBackend("s", "ns/weather", "w-1");
      await store.setBackend("s", "ns/github", "g-1");
      assertEquals(await store.getBackend("s", "ns/weather"), "w-1");
      assertEquals(await store.listBackends("s"), { "ns/weather": "w-1", "ns/github": "g-1" });
      await store.setBackend("s", "ns/weather", "w-2");
      await store.deleteBackend("s", "ns/github");
      assertEquals(await store.listBackends("s"), { "ns/weather": "w-2" });
      assertEquals(await store.get("s"), { createdAt: 1 }, "mappings are not part of the record");
      await store.delete("s");
      assertEquals(await store.listBackends("s"), {});
      assertEquals(await store.getBackend("s", "ns/weather"), undefined);
      // A late write for a session that is gone does not bring it back.
      await store.setBackend("s", "ns/weather", "w-3");
      assertEquals(await store.get("s"), undefined);
      assertEquals(await store.listBackends("s"), {});
      assertEquals(await store.count(), 0);
    } finally {
      await done();
    }
  });

  Deno.test(`${name}: records are copies`, async () => {
    const { store, done } = await open();
    try {
      const record = { createdAt: 1, protocolVersion: "2025-11-25" };
      await store.create("s", record);
      record.protocolVersion = "changed";
      const got = (await store.get("s"))!;
      assertEquals(got.protocolVersion, "2025-11-25");
      got.protocolVersion = "changed again";
      assertEquals((await store.get("s"))!.protocolVersion, "2025-11-25");
    } finally {
      await done();
    }
  });
}

contract("memory store", () => {
  const store = new MemorySessionStore();
  return Promise.resolve({ store, done: () => Promise.resolve() });
});

async function redisStore(options: { ttlSeconds?: number } = {}) {
  const redis = await startRedis();
  const store = await RedisSessionStore.connect(redis.url, options);
  return {
    redis,
    store,
    async done() {
      await store.close();
      await redis[Symbol.asyncDispose]();
    },
  };
}

contract("redis store", () => redisStore());

Deno.test("redis store: two clients on one Redis see the same sessions; keys follow the layout", async () => {
  const { redis, store, done } = await redisStore();
  const other = await RedisSessionStore.connect(`${redis.url}/0`);
  try {
    await store.create("jwt-1", { createdAt: 5 });
    await store.setBackend("jwt-1", "ns/weather", "backend-9");
    assertEquals(await other.get("jwt-1"), { createdAt: 5 });
    assertEquals(await other.getBackend("jwt-1", "ns/weather"), "backend-9");
    assertEquals(
      await redis.command("HGET", "kubectl-mcp:session:jwt-1", "ns/weather"),
      "$9\r\nbackend-9\r\n",
    );
    await other.delete("jwt-1");
    assertEquals(await store.get("jwt-1"), undefined);
    const key = await store.signingKey();
    assert(key.length >= 32, key);
    assertEquals(await other.signingKey(), key, "replicas agree on the signing key");
  } finally {
    await other.close();
    await done();
  }
});

Deno.test("redis store: the TTL is set on create and refreshed on use", async () => {
  const { redis, store, done } = await redisStore({ ttlSeconds: 100 });
  try {
    await store.create("s", { createdAt: 1 });
    assertEquals(await redis.command("TTL", "kubectl-mcp:session:s"), ":100\r\n");
    await redis.command("EXPIRE", "kubectl-mcp:session:s", "3");
    await store.get("s");
    assertEquals(await redis.command("TTL", "kubectl-mcp:session:s"), ":100\r\n");
    await redis.command("EXPIRE", "kubectl-mcp:session:s", "3");
    assertEquals(await store.touch("s"), true);
    assertEquals(await redis.command("TTL", "kubectl-mcp:session:s"), ":100\r\n");
    await redis.command("EXPIRE", "kubectl-mcp:session:s", "3");
    await store.setBackend("s", "ns/a", "x");
    assertEquals(await redis.command("TTL", "kubectl-mcp:session:s"), ":100\r\n");
    // An expired session is gone for the store.
    await redis.command("PEXPIRE", "kubectl-mcp:session:s", "1");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assertEquals(await store.get("s"), undefined);
    assertEquals(await store.count(), 0);
  } finally {
    await done();
  }
});

Deno.test("redis store: database and password from the URL", async () => {
  const redis = await startRedis();
  try {
    await redis.command("CONFIG", "SET", "requirepass", "s3cret");
    await assertRejects(
      () => RedisSessionStore.connect(`${redis.url}/3`, { connectTimeoutMs: 1000 }),
      SessionStoreError,
      `Session store redis://127.0.0.1:${redis.port}/3 is unreachable`,
    );
    const store = await RedisSessionStore.connect(`redis://default:s3cret@127.0.0.1:${redis.port}/3`);
    try {
      assertEquals(store.description, `redis://default:****@127.0.0.1:${redis.port}/3`);
      await store.create("s", { createdAt: 1 });
      assertEquals(await store.count(), 1);
    } finally {
      await store.close();
    }
  } finally {
    await redis[Symbol.asyncDispose]();
  }
});

Deno.test("redis store: an outage fails commands at once with the store's name, and it reconnects", async () => {
  const redis: TestRedis = await startRedis();
  const changes: string[] = [];
  const store = await RedisSessionStore.connect(redis.url, {
    onStateChange: (_up, message) => changes.push(message),
  });
  try {
    await store.create("s", { createdAt: 1 });
    await redis.stop({ save: true });
    const t0 = Date.now();
    const error = await assertRejects(() => store.get("s"), SessionStoreError);
    assert(Date.now() - t0 < 2000, "fails fast rather than waiting for Redis");
    assert(
      error.message.startsWith(`Session store redis://127.0.0.1:${redis.port}/0 is unavailable: `),
      error.message,
    );
    await redis.start();
    const end = Date.now() + 10_000;
    let record;
    while (true) {
      record = await store.get("s").catch(() => undefined);
      if (record || Date.now() > end) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assertEquals(record, { createdAt: 1 });
    assert(changes.some((c) => c.includes("is unreachable")), changes.join("\n"));
    assert(changes.some((c) => c.includes("is reachable again")), changes.join("\n"));
  } finally {
    await store.close();
    await redis[Symbol.asyncDispose]();
  }
});

Deno.test("redis store: a Redis that is not there fails connect with the store's name", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  await assertRejects(
    () => RedisSessionStore.connect(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 }),
    SessionStoreError,
    `Session store redis://127.0.0.1:${port}/0 is unreachable`,
  );
});

Deno.test("redis URLs: checked, masked, cluster-internal hosts recognised", () => {
  assertEquals(maskRedisUrl("redis://u:p@h:1/2"), "redis://u:****@h:1/2");
  assertEquals(maskRedisUrl("rediss://:p@h"), "rediss://:****@h:6379/0");
  assertEquals(maskRedisUrl("redis://h"), "redis://h:6379/0");
  parseRedisUrl("rediss://user:pw@redis.example.com:6380/1");
  for (const bad of ["http://h", "redis://h/x", "not a url"]) {
    let threw = false;
    try {
      parseRedisUrl(bad);
    } catch (error) {
      threw = error instanceof GatewayConfigError;
      assert(!(error as Error).message.includes("pw"));
    }
    assert(threw, bad);
  }
  for (const host of ["redis", "redis.mcp-system.svc", "redis.mcp-system.svc.cluster.local"]) {
    assert(isClusterInternalHost(`redis://${host}:6379`), host);
  }
  for (const host of ["127.0.0.1", "localhost", "redis.example.com", "[::1]"]) {
    assert(!isClusterInternalHost(`redis://${host}:6379`), host);
  }
});
