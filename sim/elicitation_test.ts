import { assert, assertEquals } from "../test/helpers/assert.ts";
import {
  ElicitationEntries,
  elicitationUrl,
  jwtExpired,
  UrlElicitation,
  userSub,
  UserTokenCache,
} from "./elicitation.ts";

/** An unsigned JWT with `claims` (the gateway reads, never verifies, a user's token). */
const jwt = (claims: Record<string, unknown>) =>
  [{ alg: "none" }, claims].map((p) => btoa(JSON.stringify(p)).replace(/=+$/, "")).join(".") + ".sig";

Deno.test("entries: random ids, claimed once, gone after their TTL, bounded", async () => {
  const entries = new ElicitationEntries({ ttlMs: 40, max: 3 });
  const a = entries.store({ sessionId: "s", server: "ns/a", sub: "alice" });
  const b = entries.store({ sessionId: "s", server: "ns/a", sub: "alice" });
  assert(a !== b && /^[0-9a-f-]{36}$/.test(a), a);
  assertEquals(entries.lookup(a), { sessionId: "s", server: "ns/a", sub: "alice" });
  assertEquals(entries.lookup(a)?.sub, "alice", "a lookup leaves it claimable");
  assertEquals(entries.claim(a)?.server, "ns/a");
  assertEquals(entries.claim(a), undefined);
  assertEquals(entries.lookup(a), undefined);
  await new Promise((r) => setTimeout(r, 60));
  assertEquals(entries.claim(b), undefined, "expired");
  for (let i = 0; i < 10; i++) entries.store({ sessionId: `s${i}`, server: "ns/a", sub: "" });
  assertEquals(entries.size, 3);
});

Deno.test("token cache: keyed by session and server, an expired JWT is a miss and deleted, bounded", () => {
  const cache = new UserTokenCache({ max: 2 });
  cache.set("s1", "ns/a", "Bearer one", 60_000);
  assertEquals(cache.get("s1", "ns/a"), "Bearer one");
  assertEquals(cache.get("s2", "ns/a"), undefined);
  assertEquals(cache.get("s1", "ns/b"), undefined);
  const expired = `Bearer ${jwt({ sub: "a", exp: Math.floor(Date.now() / 1000) - 5 })}`;
  cache.set("s1", "ns/b", expired, 60_000);
  assertEquals(cache.get("s1", "ns/b"), undefined);
  assertEquals(cache.size, 1, "the expired token was deleted");
  const live = jwt({ exp: Math.floor(Date.now() / 1000) + 60 });
  cache.set("s1", "ns/b", live, 60_000);
  assertEquals(cache.get("s1", "ns/b"), live);
  cache.set("s2", "ns/a", "Bearer two", 60_000);
  assertEquals(cache.size, 2);
  assertEquals(cache.get("s1", "ns/a"), undefined, "the oldest went first");
  cache.dropSession("s2");
  assertEquals(cache.get("s2", "ns/a"), undefined);
  cache.set("s3", "ns/a", "Bearer three", -1);
  assertEquals(cache.get("s3", "ns/a"), undefined, "its time is up");
});

Deno.test("jwtExpired reads exp as the broker does: whole seconds, no signature, non-JWTs never expire", () => {
  const now = Date.now();
  const s = Math.floor(now / 1000);
  assertEquals(jwtExpired(jwt({ exp: s - 1 }), now), true);
  assertEquals(jwtExpired(`Bearer ${jwt({ exp: s - 1 })}`, now), true, "with the Bearer prefix, as stored");
  assertEquals(jwtExpired(jwt({ exp: s + 10 }), now), false);
  assertEquals(jwtExpired(jwt({ sub: "x" }), now), false);
  assertEquals(jwtExpired(jwt({ exp: "yesterday" }), now), false);
  assertEquals(jwtExpired("ghp_plainToken", now), false);
  assertEquals(jwtExpired("a.b!.c", now), false);
});

Deno.test("userSub: the verified identity first, else the bearer JWT as the router reads it", () => {
  assertEquals(userSub({ sub: "alice" }, "Bearer whatever"), { sub: "alice" });
  assertEquals(userSub(undefined, `Bearer ${jwt({ sub: "bob" })}`), { sub: "bob" });
  assertEquals(userSub({ name: "api-key-secret" }, "APIKEY abc"), { sub: "" });
  assertEquals(userSub(undefined, null), { sub: "" });
  assertEquals(userSub(undefined, "Bearer opaque"), { sub: "" });
  assertEquals(userSub(undefined, `Bearer ${jwt({ iss: "x" })}`), {
    error: "authorization token missing sub claim: JWT has no sub claim",
  });
});

Deno.test("elicitationUrl: the client's origin, X-Forwarded-Proto, or the external url with the id appended", () => {
  const server = { name: "ns/a", url: "http://b", prefix: "", enabled: true, path: "/mcp" };
  const req = new Request("http://127.0.0.1:8080/mcp");
  assertEquals(elicitationUrl(server, "id 1", req), "http://127.0.0.1:8080/tokens?elicitation_id=id%201");
  const proxied = new Request("http://gw.test/mcp", { headers: { "x-forwarded-proto": "https" } });
  assertEquals(elicitationUrl(server, "i", proxied), "https://gw.test/tokens?elicitation_id=i");
  const external = { ...server, tokenURLElicitation: { url: "https://vault.test/ui?x=1" } };
  assertEquals(elicitationUrl(external, "i", req), "https://vault.test/ui?x=1?elicitation_id=i");
});

Deno.test("resolve: cached token, -32042 with the entry bound to the sub, or the router's tool error", async () => {
  const warnings: string[] = [];
  const e = new UrlElicitation({ warn: (m) => warnings.push(m) });
  const server = {
    name: "ns/a",
    url: "http://b",
    prefix: "",
    enabled: true,
    path: "/mcp",
    tokenURLElicitation: {},
  };
  const request = new Request("http://127.0.0.1:1/mcp");
  const call = {
    server,
    sessionId: "s",
    requestId: 4,
    clientElicitation: true,
    identity: { sub: "alice" },
    request,
  };
  const miss = e.resolve(call);
  assert("response" in miss);
  const body = await miss.response.text();
  const data = JSON.parse(body.split("data: ")[1]);
  assertEquals(data.id, 4);
  assertEquals(data.error.code, -32042);
  const id = data.error.data.elicitations[0].elicitationId;
  assertEquals(e.entries.lookup(id), { sessionId: "s", server: "ns/a", sub: "alice" });
  assertEquals(warnings, []);
  e.tokens.set("s", "ns/a", "Bearer t", 1000);
  assertEquals(e.resolve(call), { token: "Bearer t" });
  // No identity at all: still elicited (as the cluster), with one warning per server.
  e.resolve({ ...call, sessionId: "s2", identity: undefined });
  e.resolve({ ...call, sessionId: "s3", identity: undefined });
  assertEquals(warnings.length, 1);
  const unsupported = e.resolve({ ...call, sessionId: "s4", clientElicitation: false });
  assert("response" in unsupported);
  assert((await unsupported.response.text()).includes('"isError":true'));
  assertEquals(UrlElicitation.applies(server, true), true);
  assertEquals(UrlElicitation.applies(server, false), false);
  assertEquals(UrlElicitation.applies({ ...server, tokenURLElicitation: undefined }, true), false);
});
