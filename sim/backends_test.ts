/**
 * The backend pool on its own: client sessions' backend sessions on a real fixture server, counted
 * by the fixture itself (sessions created, and ended by DELETE).
 */
import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import { type RunningFixture, startFixture } from "../test/fixtures/mod.ts";
import { bareSession, recordedServerSet } from "../test/sim_stages.ts";
import { BackendPool } from "./backends.ts";
import { UpstreamError } from "./errors.ts";
import { MemorySessionStore } from "./store.ts";

const WEATHER = "test/weather";

/** A started server set with the weather fixture, a pool over it and its store. */
async function pool(weather: RunningFixture) {
  const servers = recordedServerSet({ servers: [{ name: WEATHER, url: weather.url, prefix: "w_" }] });
  await servers.set.start();
  const store = new MemorySessionStore();
  const backends = new BackendPool({ servers: servers.set, store, timeoutMs: 5000, log: () => {} });
  /** A client session with its store record, as the registry makes one (`id`: another replica's copy). */
  const session = async (id?: string) => {
    const s = bareSession(id);
    if (!await store.get(s.id)) await store.create(s.id, { createdAt: Date.now() });
    return s;
  };
  return { backends, store, session, [Symbol.asyncDispose]: () => servers.set.close() };
}

/** Fixture sessions created and ended (DELETE) since `before`. */
function delta(weather: RunningFixture, before: { sessionsCreated: number; sessionsDeleted: number }) {
  const now = weather.stats();
  return {
    created: now.sessionsCreated - before.sessionsCreated,
    deleted: now.sessionsDeleted - before.sessionsDeleted,
  };
}

Deno.test("get opens one backend session per client session and server, cached and recorded in the store", async () => {
  await using weather = await startFixture("weather");
  await using p = await pool(weather);
  const before = weather.stats();
  const a = await p.session();
  const b = await p.session();
  const first = p.backends.get(a, WEATHER);
  assert(p.backends.get(a, WEATHER) === first, "a second use while opening shares the first");
  const conn = await first;
  assert(await p.backends.get(a, WEATHER) === conn);
  const other = await p.backends.get(b, WEATHER);
  assertEquals(delta(weather, before), { created: 2, deleted: 0 });
  assert(conn.transport.sessionId && conn.transport.sessionId !== other.transport.sessionId);
  assertEquals(await p.store.getBackend(a.id, WEATHER), conn.transport.sessionId);
  assertEquals(await p.store.getBackend(b.id, WEATHER), other.transport.sessionId);
  const { tools } = await conn.client.listTools();
  assert(tools.some((t) => t.name === "search"), "the backend's own names");
  await p.backends.closeAll(a, true);
  await p.backends.closeAll(b, true);
});

Deno.test("forget drops the backend session and its record; the next get opens a new one", async () => {
  await using weather = await startFixture("weather");
  await using p = await pool(weather);
  const s = await p.session();
  const old = await p.backends.get(s, WEATHER);
  const before = weather.stats();
  await p.backends.forget(s, WEATHER);
  assertEquals(s.upstreams.size, 0);
  assertEquals(await p.store.getBackend(s.id, WEATHER), undefined);
  const fresh = await p.backends.get(s, WEATHER);
  assertEquals(delta(weather, before).created, 1);
  assert(fresh !== old && fresh.transport.sessionId !== old.transport.sessionId);
  assertEquals(await p.store.getBackend(s.id, WEATHER), fresh.transport.sessionId);
  await p.backends.closeAll(s, true);
});

Deno.test("dropServer ends every given session's backend session on that server", async () => {
  await using weather = await startFixture("weather");
  await using p = await pool(weather);
  const sessions = [await p.session(), await p.session()];
  for (const s of sessions) await p.backends.get(s, WEATHER);
  const before = weather.stats();
  await p.backends.dropServer(sessions, WEATHER);
  assertEquals(delta(weather, before), { created: 0, deleted: 2 });
  for (const s of sessions) {
    assertEquals(s.upstreams.size, 0);
    assertEquals(await p.store.getBackend(s.id, WEATHER), undefined);
  }
  // A session without one on that server is left alone.
  await p.backends.dropServer([await p.session()], WEATHER);
  assertEquals(delta(weather, before).deleted, 2);
});

Deno.test("closeAll: with end the backend sessions end on the server, without they stay for another replica", async () => {
  await using weather = await startFixture("weather");
  await using p = await pool(weather);
  const ended = await p.session();
  await p.backends.get(ended, WEATHER);
  let before = weather.stats();
  await p.backends.closeAll(ended, true);
  assertEquals(delta(weather, before), { created: 0, deleted: 1 });
  assertEquals(ended.upstreams.size, 0);

  // Without end (a shared store, the gateway shutting down): the backend keeps it and the store
  // still names it, so another replica holding the same client session resumes it.
  const kept = await p.session();
  const id = (await p.backends.get(kept, WEATHER)).transport.sessionId;
  before = weather.stats();
  await p.backends.closeAll(kept, false);
  assertEquals(delta(weather, before), { created: 0, deleted: 0 });
  assertEquals(weather.stats().sessionsActive, before.sessionsActive);
  const elsewhere = await p.session(kept.id);
  const resumed = await p.backends.get(elsewhere, WEATHER);
  assertEquals(resumed.transport.sessionId, id);
  assertEquals(delta(weather, before).created, 0);
  assert((await resumed.client.listTools()).tools.length > 0, "the resumed backend session answers");
  await p.backends.closeAll(elsewhere, false);

  // A replica that never opened it ends it by id alone, from the store's mapping.
  const bystander = await p.session(kept.id);
  await p.backends.closeAll(bystander, true, await p.store.listBackends(kept.id));
  assertEquals(delta(weather, before), { created: 0, deleted: 1 });
});

Deno.test("get: an unknown server, a failed open (retried on next use) and a session that closed meanwhile", async () => {
  await using weather = await startFixture("weather");
  await using p = await pool(weather);
  const s = await p.session();
  await assertRejects(
    () => p.backends.get(s, "test/nope"),
    UpstreamError,
    "Server test/nope is not configured.",
  );
  assertEquals(s.upstreams.size, 0);

  // A failed open leaves no entry, so the next use tries again.
  const down = await startFixture("weather");
  const downServers = recordedServerSet({ servers: [{ name: "test/down", url: down.url }] });
  await downServers.set.start();
  await down.close();
  const downPool = new BackendPool({
    servers: downServers.set,
    store: p.store,
    timeoutMs: 2000,
    log: () => {},
  });
  try {
    await assertRejects(
      () => downPool.get(s, "test/down"),
      UpstreamError,
      "Server test/down could not be initialised",
    );
    assertEquals(s.upstreams.size, 0);
  } finally {
    await downServers.set.close();
  }

  // The client session closed while its backend session was opening: it is ended, not kept.
  const closing = await p.session();
  const before = weather.stats();
  const opening = p.backends.get(closing, WEATHER);
  closing.closed = true;
  await assertRejects(() => opening, UpstreamError, "The client session closed.");
  assertEquals(delta(weather, before), { created: 1, deleted: 1 });
  assertEquals(closing.upstreams.size, 0);
});
