import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import { startRedis } from "../test/helpers/redis.ts";
import { SessionSigner } from "./session.ts";
import { MemorySessionStore, type SessionStore, SessionStoreError } from "./store.ts";
import { RedisSessionStore } from "./store_redis.ts";

Deno.test("session ids are HS256 JWTs that only the issuing key verifies", async () => {
  const a = new SessionSigner("key-number-one-123456");
  const b = new SessionSigner("key-number-two-123456");
  const id = await a.issue();
  assertEquals(JSON.parse(atob(id.split(".")[0])).alg, "HS256");
  assert((await a.verify(id)).length > 0);
  const e = await assertRejects(() => b.verify(id));
  assertEquals((e as { code?: string }).code, "ERR_SESSION");
  await assertRejects(() => a.verify("garbage"));
  await assertRejects(() => a.verify(id.slice(0, -2) + "xx"));
  assert(await a.issue() !== id);
});

Deno.test("the memory store keeps gateway -> server -> backend session ids", async () => {
  const s = new MemorySessionStore();
  await s.create("g1", { createdAt: 1 });
  await s.setBackend("g1", "ns/a", "b1");
  assertEquals(await s.getBackend("g1", "ns/a"), "b1");
  assertEquals(await s.listBackends("g1"), { "ns/a": "b1" });
  await s.deleteBackend("g1", "ns/a");
  assertEquals(await s.listBackends("g1"), {});
  assertEquals(await s.count(), 1);
  await s.delete("g1");
  assertEquals(await s.get("g1"), undefined);
  assertEquals(await s.count(), 0);
});

Deno.test("shared signers on one Redis converge on one key after Redis loses it", async () => {
  await using redis = await startRedis();
  await using storeA = await RedisSessionStore.connect(redis.url);
  await using storeB = await RedisSessionStore.connect(redis.url);
  await using storeC = await RedisSessionStore.connect(redis.url);
  let reads = 0;
  const counted = { signingKey: (prefer?: string) => (reads++, storeB.signingKey(prefer)) };
  const a = await SessionSigner.shared(storeA);
  const b = await SessionSigner.shared(counted, { recheckMs: 60_000 });
  const before = await a.issue();
  assert(await b.verify(before));

  await redis.command("FLUSHALL");
  // C finds no key and writes its own; A and B still hold the old one.
  const c = await SessionSigner.shared(storeC);
  const fromA = await a.issue();
  const readsBefore = reads;
  assert(await c.verify(fromA), "A signs with the key the store holds now");
  assert(await b.verify(fromA), "B rereads the store's key when an id fails to verify");
  assertEquals(reads, readsBefore + 1);
  assert(await a.verify(await c.issue()));
  assert(await c.verify(await b.issue()));
  assert(await a.verify(before), "ids signed before the change stay valid where they were");

  // A forged id rereads the key at most once per recheckMs.
  const forged = fromA.slice(0, -4) + "AAAA";
  await assertRejects(() => b.verify(forged));
  assertEquals(reads, readsBefore + 2, "B issued once since: one read");
  await assertRejects(() => b.verify(forged));
  assertEquals(reads, readsBefore + 2);

  // Lost again with nobody new: the first replica to issue puts its own key back.
  await redis.command("FLUSHALL");
  const again = await b.issue();
  assert(await a.verify(again) && await c.verify(again));
  assertEquals(await storeA.signingKey(), await storeC.signingKey());
});

Deno.test("a shared signer fails clearly when the store is unreachable or keeps no key", async () => {
  await using redis = await startRedis();
  await using store = await RedisSessionStore.connect(redis.url, { commandTimeoutMs: 500 });
  const signer = await SessionSigner.shared(store);
  await redis.stop();
  const e = await assertRejects(() => signer.issue());
  assert(e instanceof SessionStoreError, String(e));
  const none = await assertRejects(() => SessionSigner.shared(new MemorySessionStore() as SessionStore));
  assertEquals((none as { code?: string }).code, "ERR_SESSION");
});
