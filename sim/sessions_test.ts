/**
 * The session registry on its own: sessions created for an initialize and found by their signed id,
 * the cap, idle sweeping, and sessions resumed from a store another registry wrote.
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { ResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import { initializeBody } from "../test/sim_helpers.ts";
import { mcpRequest, recordedServerSet } from "../test/sim_stages.ts";
import { BackendPool } from "./backends.ts";
import type { ClientSession } from "./client_session.ts";
import { Metrics } from "./metrics.ts";
import { SessionSigner } from "./session.ts";
import { SessionCapError, SessionRegistry, WARM_MS } from "./sessions.ts";
import { MemorySessionStore, type SessionStore } from "./store.ts";

const KEY = "a-signing-key-of-32-bytes-length";

/** A registry over `store` with no servers; records what it set up and closed. */
function registry(store: SessionStore, opts: { maxSessions?: number; key?: string } = {}) {
  const servers = recordedServerSet({ servers: [] });
  const metrics = new Metrics();
  const log = () => {};
  const setUp: string[] = [];
  const closed: string[] = [];
  const sessions = new SessionRegistry({
    store,
    backends: new BackendPool({ servers: servers.set, store, log }),
    metrics,
    log,
    maxSessions: opts.maxSessions ?? 10,
    discoveryTools: () => false,
    setup: (s) => setUp.push(s.id),
    onClose: (id) => closed.push(id),
  }, opts.key);
  return {
    sessions,
    setUp,
    closed,
    [Symbol.asyncDispose]: () => sessions.closeAll(),
  };
}

/** A session created and initialised through its own transport, as the endpoint does it. */
async function open(
  sessions: SessionRegistry,
  capabilities: Record<string, unknown> = {},
): Promise<ClientSession> {
  const body = initializeBody("2025-06-18", 1, capabilities);
  const session = await sessions.create(body.params);
  const res = await session.transport.handleRequest(mcpRequest(body), { parsedBody: body });
  await res.body?.cancel();
  assertEquals(res.status, 200);
  assert(sessions.holds(session.id));
  return session;
}

/** A request naming session `id` (or none). */
function naming(id?: string, headers: Record<string, string> = {}): Request {
  return mcpRequest(
    { jsonrpc: "2.0", id: 1, method: "ping" },
    id ? { "mcp-session-id": id, ...headers } : headers,
  );
}

/** The JSON-RPC error of a refusal. */
async function refusal(found: ClientSession | Response): Promise<{ status: number; code: number }> {
  assert(found instanceof Response, "expected a refusal, got a session");
  const body = await found.json();
  return { status: found.status, code: body.error.code };
}

Deno.test("create records the session before the client has its id; find returns it and notes the request", async () => {
  const store = new MemorySessionStore();
  await using r = registry(store);
  const s = await open(r.sessions, { elicitation: {} });
  assertEquals(r.setUp, [s.id]);
  assertEquals(r.sessions.size, 1);
  const record = await store.get(s.id);
  assertEquals(record?.protocolVersion, "2025-06-18");
  assertEquals(record?.clientInfo, { name: "raw", version: "1" });
  assertEquals(record?.clientCapabilities, { elicitation: {} });
  s.lastUsed = 0;
  const found = await r.sessions.find(naming(s.id, { authorization: "Bearer x" }));
  assert(found === s);
  assert(s.lastUsed > 0);
  assertEquals(s.requestHeaders.get("authorization"), "Bearer x");
  // An unsupported version is negotiated down to the latest, as the SDK does.
  const odd = await r.sessions.create({ protocolVersion: "1999-01-01" });
  assertEquals((await store.get(odd.id))?.protocolVersion, odd.protocolVersion);
  assert(odd.protocolVersion && odd.protocolVersion !== "1999-01-01");
});

Deno.test("find: 400 without the header, 404 for forged ids, after close, and once the store forgot it", async () => {
  const store = new MemorySessionStore();
  await using r = registry(store, { key: KEY });
  assertEquals(await refusal(await r.sessions.find(naming())), { status: 400, code: -32000 });
  assertEquals(await refusal(await r.sessions.find(naming("not-a-jwt"))), { status: 404, code: -32001 });
  const forged = await new SessionSigner("another-key-of-32-bytes-length!!").issue();
  await store.create(forged, { createdAt: Date.now() });
  assertEquals(await refusal(await r.sessions.find(naming(forged))), { status: 404, code: -32001 });

  const a = await open(r.sessions);
  await r.sessions.close(a.id);
  assertEquals(r.closed, [a.id]);
  assert(a.closed && !r.sessions.holds(a.id));
  assertEquals(await store.get(a.id), undefined, "a memory store is nobody else's: close ends the session");
  assertEquals(await refusal(await r.sessions.find(naming(a.id))), { status: 404, code: -32001 });
  await r.sessions.close(a.id);
  assertEquals(r.closed, [a.id], "closed once");

  // Another replica ended it: the store decides, and the local copy goes too.
  const b = await open(r.sessions);
  await store.delete(b.id);
  assertEquals(await refusal(await r.sessions.find(naming(b.id))), { status: 404, code: -32001 });
  assert(b.closed && !r.sessions.holds(b.id));
  assertEquals(r.closed, [a.id, b.id]);
});

Deno.test("maxSessions: create past the cap throws SessionCapError until a session closes", async () => {
  await using r = registry(new MemorySessionStore(), { maxSessions: 2 });
  await open(r.sessions);
  const second = await open(r.sessions);
  const err = await assertRejects(() => r.sessions.create({}), SessionCapError, "holds 2 sessions");
  assertEquals(err.max, 2);
  await r.sessions.close(second.id);
  await open(r.sessions);
});

// Fails before this change: all three resolved, since a session counted only once the SDK held it.
Deno.test("maxSessions: concurrent creates count against the cap while they are built", async () => {
  await using r = registry(new MemorySessionStore(), { maxSessions: 1 });
  const outcomes = await Promise.allSettled([1, 2, 3].map(() => r.sessions.create({})));
  assertEquals(outcomes.map((o) => o.status), ["fulfilled", "rejected", "rejected"]);
  for (const o of outcomes) if (o.status === "rejected") assert(o.reason instanceof SessionCapError);
  // Built but never initialised (the SDK refused it): it holds no slot.
  await open(r.sessions);
});

Deno.test("closeIdle closes only sessions idle for longer than the limit and not listening on a stream", async () => {
  await using r = registry(new MemorySessionStore());
  const idle = await open(r.sessions);
  const busy = await open(r.sessions);
  const listening = await open(r.sessions);
  const hour = Date.now() - 3_600_000;
  idle.lastUsed = hour;
  listening.lastUsed = hour;
  listening.openStreams = 1;
  r.sessions.closeIdle(60_000);
  assertEquals(r.closed, [idle.id]);
  assert(!r.sessions.holds(idle.id));
  assert(r.sessions.holds(busy.id) && r.sessions.holds(listening.id));
  // Its stream ended an hour ago: now it is idle too.
  listening.openStreams = 0;
  r.sessions.closeIdle(60_000);
  assertEquals(r.closed, [idle.id, listening.id]);
  assertEquals(r.sessions.size, 1);
});

Deno.test("resume: a second registry with the same key serves a session from the shared store", async () => {
  const store = new MemorySessionStore();
  await using a = registry(store, { key: KEY });
  await using b = registry(store, { key: KEY });
  await using other = registry(store, { key: "yet-another-key-32-bytes-long!!!" });
  const s = await open(a.sessions, { sampling: {} });

  // Concurrent requests resume it once.
  const [found, again] = await Promise.all([b.sessions.find(naming(s.id)), b.sessions.find(naming(s.id))]);
  assert(found === again && !(found instanceof Response));
  assertEquals(b.setUp, [s.id]);
  assertEquals(b.sessions.size, 1);
  assertEquals(found.id, s.id);
  assertEquals(found.protocolVersion, "2025-06-18");
  assertEquals(found.capabilities, { sampling: {} });
  // Its transport takes the session's requests as the issuing one would.
  const ping = await found.transport.handleRequest(naming(s.id, { "mcp-protocol-version": "2025-06-18" }));
  assertEquals(ping.status, 200);
  assertEquals((await ping.text()).includes('"result":{}'), true);
  // A registry with another key does not accept the id, whatever the store holds.
  assertEquals(await refusal(await other.sessions.find(naming(s.id))), { status: 404, code: -32001 });
  assertEquals(other.sessions.size, 0);

  // b ends it (a memory store is not shared: close ends it everywhere); a hears of it from the store.
  await b.sessions.close(s.id);
  assertEquals(await refusal(await a.sessions.find(naming(s.id))), { status: 404, code: -32001 });
  assert(!a.sessions.holds(s.id));
});

/** A memory store whose `get` waits for `release` while `hold` is set (a slow store round trip). */
class GatedStore extends MemorySessionStore {
  hold = false;
  #gate = Promise.withResolvers<void>();
  release(): void {
    this.#gate.resolve();
  }
  override async get(sessionId: string) {
    if (this.hold) await this.#gate.promise;
    return await super.get(sessionId);
  }
}

// Fails before this change: the slow request resumed the session a second time, replacing the
// first copy (left open, with whatever backend sessions it had) under the same id.
Deno.test("resume: a request whose store lookup was slower gets the copy another request resumed meanwhile", async () => {
  const store = new GatedStore();
  await using a = registry(store, { key: KEY });
  await using b = registry(store, { key: KEY });
  const s = await open(a.sessions);
  store.hold = true;
  const slow = b.sessions.find(naming(s.id));
  // Let the slow request reach the store before the fast one goes past it.
  await new Promise((r) => setTimeout(r, 20));
  store.hold = false;
  const fast = await b.sessions.find(naming(s.id));
  assert(!(fast instanceof Response));
  store.release();
  assert(await slow === fast, "one copy of the session");
  assertEquals(b.setUp, [s.id]);
  assertEquals(b.sessions.size, 1);
});

/** A POST of `body` on session `id`, on protocol 2025-06-18. */
function posted(id: string, body: unknown): Request {
  return mcpRequest(body, { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" });
}

Deno.test("idle sessions drop their SDK pair; the next request gets one that starts as the client left it", async () => {
  await using r = registry(new MemorySessionStore());
  const s = await open(r.sessions, { elicitation: {} });
  assert(s.warm && s.initialized);
  // As the SDK read them (it normalises `elicitation: {}` to `{ form: {} }`).
  const capabilities = s.capabilities;
  assertEquals(capabilities.elicitation, { form: {} });
  // Only a notification: nothing to wait for, the pair goes at once.
  const note = await s.handleRequest(posted(s.id, { jsonrpc: "2.0", method: "notifications/initialized" }));
  assertEquals(note.status, 202);
  assert(!s.warm && s.initialized);
  assertEquals(s.capabilities, capabilities, "known without a pair");
  assert(!s.warm);
  assertEquals(r.setUp, [s.id]);

  // A request makes a new pair, initialised with the client's capabilities and info; handlers installed again.
  const ping = await s.handleRequest(posted(s.id, { jsonrpc: "2.0", id: 2, method: "ping" }));
  assertEquals(ping.status, 200);
  assert((await ping.text()).includes('"result":{}'));
  assert(s.warm);
  assertEquals(r.setUp, [s.id, s.id]);
  assertEquals(s.server.getClientCapabilities(), capabilities);
  assertEquals(s.server.getClientVersion(), { name: "raw", version: "1" });
  assertEquals(s.transport.sessionId, s.id);
  // The SDK forgets the answered request a few microtasks after the answer went out.
  for (let i = 0; i < 50 && !s.release(); i++) await new Promise((res) => setTimeout(res, 10));
  assert(!s.warm);
});

Deno.test("a session keeps its SDK pair while a GET stream is open or the server awaits the client", async () => {
  await using r = registry(new MemorySessionStore());
  const s = await open(r.sessions, { elicitation: {} });
  const get = await s.handleRequest(
    new Request("http://127.0.0.1/mcp", {
      method: "GET",
      headers: { accept: "text/event-stream", "mcp-session-id": s.id, "mcp-protocol-version": "2025-06-18" },
    }),
  );
  assertEquals(get.status, 200);
  assert(!s.release() && s.warm, "a GET stream is open on the transport");
  await get.body!.cancel();
  for (let i = 0; i < 50 && !s.release(); i++) await new Promise((res) => setTimeout(res, 10));
  assert(!s.warm, "dropped once the stream ended");

  // A request to the client (as a backend's elicitation relayed with no call open) keeps it.
  const asked = s.server.request(
    {
      method: "elicitation/create",
      params: { message: "?", requestedSchema: { type: "object", properties: {} } },
    },
    ResultSchema,
    { timeout: 5_000 },
  ).catch((err) => err);
  assert(!s.release() && s.warm, "an answer is awaited");
  // The client's answer comes on a POST of its own (202), which leaves nothing in flight: dropped.
  const answer = await s.handleRequest(posted(s.id, { jsonrpc: "2.0", id: 0, result: { action: "cancel" } }));
  assertEquals(answer.status, 202);
  assertEquals(await asked, { action: "cancel" });
  assert(!s.warm);

  // The next request to the client does not reuse the id the dropped pair gave.
  void s.server.request({ method: "roots/list" }, ResultSchema, { timeout: 5_000 }).catch(() => {});
  assertEquals((s.server as unknown as { _requestMessageId: number })._requestMessageId, 2);
  await r.sessions.close(s.id);
});

Deno.test("sessions unused for WARM_MS lose their SDK pair to the registry's sweep", async () => {
  await using r = registry(new MemorySessionStore());
  const a = await open(r.sessions);
  const b = await open(r.sessions);
  a.lastUsed = Date.now() - WARM_MS;
  const deadline = Date.now() + 3 * WARM_MS;
  while (a.warm && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
  assert(!a.warm, "swept");
  // b was used just now, so the first sweep may keep it; it goes on a later one.
  while (b.warm && Date.now() < deadline + WARM_MS) await new Promise((res) => setTimeout(res, 50));
  assert(!b.warm);
  // Both still answer.
  const ping = await b.handleRequest(posted(b.id, { jsonrpc: "2.0", id: 3, method: "ping" }));
  assertEquals(ping.status, 200);
  await ping.body?.cancel();
  await r.sessions.close(b.id);
  assertEquals(r.sessions.warmCount, 0);

  // A session whose initialize the SDK refused is never held: the sweep forgets it, pair and all.
  const refused = await r.sessions.create({});
  const bad = await refused.handleRequest(
    mcpRequest({ jsonrpc: "2.0", id: 1, method: "initialize", params: {} }, { accept: "text/plain" }),
  );
  assertEquals(bad.status, 406);
  assert(!r.sessions.holds(refused.id) && refused.warm);
  refused.lastUsed = Date.now() - WARM_MS;
  assertEquals(r.sessions.warmCount, 1);
  while (r.sessions.warmCount > 0 && Date.now() < deadline + 3 * WARM_MS) {
    await new Promise((res) => setTimeout(res, 50));
  }
  assertEquals(r.sessions.warmCount, 0);
});
