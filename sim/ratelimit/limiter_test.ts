import { assertEquals } from "../../test/helpers/assert.ts";
import { buildAuthorizationJson } from "../auth/authorization_json.ts";
import { MemoryCounters } from "./counters.ts";
import { checkLimits, compileLimits, countersFor } from "./limiter.ts";
import type { LimitSpec } from "./rate_limit_policy.ts";

const json = (headers: Record<string, string>, identity?: unknown) => {
  const request = new Request("http://127.0.0.1/mcp", { method: "POST", headers });
  const j = buildAuthorizationJson({
    request,
    headers: request.headers,
    source: { address: "127.0.0.1", port: 1 },
    destination: { address: "127.0.0.1", port: 80 },
  });
  if (identity !== undefined) j.auth.identity = identity;
  return j;
};
const spec = (name: string, limit: number, extra: Partial<LimitSpec> = {}): LimitSpec => ({
  name,
  policy: "ns/p",
  rates: [{ limit, window: "1m", windowMs: 60_000 }],
  counters: [],
  when: [],
  ...extra,
});

Deno.test("limiter: all matching limits apply, the first exhausted answers, unevaluable counters do not count", async () => {
  const limits = compileLimits([
    spec("per-user", 1, { counters: ["auth.identity.sub"] }),
    spec("tool", 3, { when: ["request.headers['x-mcp-toolname'] == 'get'"] }),
  ]);
  const storage = new MemoryCounters();
  const alice = json({ "x-mcp-toolname": "get" }, { sub: "alice" });
  assertEquals(await checkLimits(limits, alice, storage), { applied: ["ns/p#per-user", "ns/p#tool"] });
  const second = await checkLimits(limits, alice, storage);
  assertEquals([second.limited?.limit, second.limited?.rate.limit], ["per-user", 1]);
  // The limited request counted on no counter: `tool` is still at 1.
  assertEquals(storage.list().map((c) => [c.key, c.value]), [
    ['ns/p#per-user#1/1m#["alice"]', 1],
    ["ns/p#tool#3/1m", 1],
  ]);
  // No identity: `per-user` cannot be evaluated and does not apply; `tool` still does.
  const anonymous = json({ "x-mcp-toolname": "get" });
  assertEquals(await checkLimits(limits, anonymous, storage), { applied: ["ns/p#tool"] });
  assertEquals((await checkLimits(limits, anonymous, storage)).limited, undefined);
  assertEquals((await checkLimits(limits, anonymous, storage)).limited?.limit, "tool");
  // Another tool: `when` does not hold (a missing header is not an error that limits).
  assertEquals(await checkLimits(limits, json({}), storage), { applied: [] });
});

Deno.test("limiter: a counter that may read a credential is keyed by a hash, never the value", () => {
  const limits = compileLimits([
    spec("by-key", 5, { counters: ["request.headers['authorization']", "auth.identity.metadata.name"] }),
  ]);
  const { hits } = countersFor(
    limits,
    json({ authorization: "Bearer sekret-token-123" }, { metadata: { name: "bob" } }),
  );
  assertEquals(hits.length, 1);
  assertEquals(hits[0].key.includes("sekret"), false, hits[0].key);
  assertEquals(/#\["sha256:[0-9a-f]{16}","bob"\]$/.test(hits[0].key), true, hits[0].key);
});

Deno.test("limiter: CEL on the wasm-shim's other roots compiles; the simulator lacks them, so it neither selects nor counts", async () => {
  const limits = compileLimits([
    spec("mtls", 1, { when: ["connection.mtls == false"] }),
    spec("domain", 1, { counters: ["ratelimit.domain"] }),
    spec("source", 1, { when: ["source.address == '127.0.0.1'"] }),
  ]);
  const storage = new MemoryCounters();
  assertEquals(await checkLimits(limits, json({}), storage), { applied: ["ns/p#source"] });
  assertEquals((await checkLimits(limits, json({}), storage)).limited?.limit, "source");
});
