import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import { SessionSigner } from "./session.ts";
import { MemorySessionStore } from "./store.ts";

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
