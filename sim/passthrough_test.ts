/**
 * The `tools/call` pass-through, end to end through the gateway to the real
 * fixtures with raw HTTP, so the ids on the wire can be checked.
 */
import { assert, assertEquals, assertMatch, assertNotEquals } from "../test/helpers/assert.ts";
import { startFixture } from "../test/fixtures/mod.ts";
import { startSplitEndProxy } from "../test/helpers/split_end_proxy.ts";
import { connectClient, firstText, post, rawSession, sseMessages, waitFor } from "../test/sim_helpers.ts";
import { normalizeConfig, startGateway } from "./mod.ts";

/** Forwards `req` to the same path on `target`; the posted body (read as text) comes back with the answer. */
async function forward(req: Request, target: URL): Promise<{ body?: string; res: Response }> {
  const u = new URL(req.url);
  const body = req.method === "POST" ? await req.text() : undefined;
  const headers = new Headers(req.headers);
  headers.delete("host");
  const res = await fetch(new URL(u.pathname + u.search, target), { method: req.method, headers, body });
  return { body, res };
}

/**
 * A proxy in front of `target` that records every JSON body posted through it, the port each came
 * from (one port: one connection) and the compression each asked for.
 */
function recordingProxy(target: string) {
  const t = new URL(target);
  const bodies: Array<Record<string, unknown>> = [];
  const ports: number[] = [];
  const encodings: Array<string | null> = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req, info) => {
    const { body, res } = await forward(req, t);
    if (body) {
      bodies.push(JSON.parse(body));
      ports.push(info.remoteAddr.port);
      encodings.push(req.headers.get("accept-encoding"));
    }
    return new Response(res.body, { status: res.status, headers: res.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}${t.pathname}`,
    bodies,
    ports,
    encodings,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** POSTs a `tools/call` of the weather fixture's search (as `name`) on the session of `headers`. */
function callSearch(
  url: string,
  headers: Record<string, string>,
  id: number,
  name = "w_search",
): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name, arguments: { query: "a" } },
    }),
  });
}

/**
 * A proxy in front of `target` that passes the n-th (from 1) SSE answer to a `tools/call` as
 * `endOf(n)` says: "hold" sends its events as they come but keeps the end of the stream back until
 * `release()` (`held` counts the ends kept back), "whole" sends it in one write, its end with it.
 * Everything else is streamed through.
 */
function endHoldingProxy(target: string, endOf: (n: number) => "hold" | "whole") {
  const t = new URL(target);
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  let calls = 0;
  let held = 0;
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    const { body, res } = await forward(req, t);
    const init = { status: res.status, headers: res.headers };
    const sse = res.headers.get("content-type")?.includes("text/event-stream");
    if (!sse || !body?.includes('"tools/call"')) return new Response(res.body, init);
    const how = endOf(++calls);
    if (how === "whole") return new Response(await res.text(), init);
    const reader = res.body!.getReader();
    const heldBack = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const r = await reader.read();
        if (!r.done) return controller.enqueue(r.value);
        held++;
        await released;
        controller.close();
      },
    });
    return new Response(heldBack, init);
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}${t.pathname}`,
    get held() {
      return held;
    },
    release,
    [Symbol.asyncDispose]: () => {
      release();
      return server.shutdown();
    },
  };
}

Deno.test("pass-through: the backend sees a gateway id, the client gets its own back, even colliding ones", async () => {
  await using weather = await startFixture("weather");
  await using proxy = recordingProxy(weather.url);
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/weather", url: proxy.url, prefix: "w_" }],
  }));
  const a = await rawSession(gw.url);
  const b = await rawSession(gw.url);
  // Id 0 is the one the gateway's own SDK client used for initialize on the backend session.
  const call = (headers: Record<string, string>, id: number | string, query: string) =>
    post(gw.url, {
      jsonrpc: "2.0",
      id,
      method: "tools/call",
      params: { name: "w_search", arguments: { query } },
    }, {
      ...headers,
    });
  const [ra, rb, ra2] = await Promise.all([
    call(a.headers, 0, "a"),
    call(b.headers, 0, "b"),
    call(a.headers, 1, "c"),
  ]);
  assertEquals([ra.json?.id, rb.json?.id, ra2.json?.id], [0, 0, 1]);
  assertEquals(ra.headers.get("mcp-session-id"), a.id);
  assert(JSON.stringify(ra.json?.result).includes("weather"), JSON.stringify(ra.json));
  const calls = proxy.bodies.filter((m) => m.method === "tools/call");
  assertEquals(calls.length, 3);
  for (const m of calls) {
    assertMatch(String(m.id), /^kmcp-call-/);
    assertEquals((m.params as { name: string }).name, "search");
  }
  assertEquals(new Set(calls.map((m) => m.id)).size, 3);
  assertEquals(gw.gateway.passthrough?.inflight, 0);
  // Unknown tools get the cluster router's answer, never reaching a backend.
  const unknown = await call(a.headers, 9, "x").then(() =>
    post(
      gw.url,
      { jsonrpc: "2.0", id: 10, method: "tools/call", params: { name: "w_nope", arguments: {} } },
      a.headers,
    )
  );
  assertEquals((unknown.json?.result as { isError: boolean }).isError, true);
});

Deno.test("pass-through: sequential calls share one kept-alive connection to the backend", async () => {
  await using weather = await startFixture("weather");
  await using proxy = recordingProxy(weather.url);
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/weather", url: proxy.url, prefix: "w_" }],
  }));
  await using session = await connectClient(gw.url);
  for (const query of ["a", "b", "c", "d"]) {
    const r = await session.client.callTool({ name: "w_search", arguments: { query } });
    assert(firstText(r).includes("weather"), JSON.stringify(r));
  }
  const callPorts = proxy.ports.filter((_, i) => proxy.bodies[i].method === "tools/call");
  assertEquals(callPorts.length, 4);
  assertEquals(new Set(callPorts).size, 1, `tools/call came from ports ${callPorts.join(", ")}`);
  // Sent by the pass-through's own HTTP/1.1 client (sim/http1.ts), which asks for no compression,
  // where fetch asks for gzip and br.
  const callEncodings = proxy.encodings.filter((_, i) => proxy.bodies[i].method === "tools/call");
  assertEquals(callEncodings, [null, null, null, null]);
});

Deno.test("pass-through: a backend's elicitation gets a gateway id and the answer reaches the backend", async () => {
  await using elicit = await startFixture("elicit");
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/elicit", url: elicit.url, prefix: "e_" }],
  }));
  const s = await rawSession(gw.url, undefined, { elicitation: { form: {} } });
  const res = await fetch(gw.url, {
    method: "POST",
    headers: s.headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: "mine",
      method: "tools/call",
      params: { name: "e_book_table", arguments: { restaurant: "Chez Id" } },
    }),
  });
  assertEquals(res.headers.get("content-type"), "text/event-stream");
  const messages = sseMessages(res);
  const ask = (await messages.next()).value!;
  assertEquals(ask.method, "elicitation/create");
  assertMatch(String(ask.id), /^kmcp-req-/);
  assertEquals(gw.gateway.passthrough?.pendingRequests, 1);
  const answer = await fetch(gw.url, {
    method: "POST",
    headers: s.headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: ask.id,
      result: { action: "accept", content: { seats: 2, time: "20:00" } },
    }),
  });
  await answer.body?.cancel();
  assertEquals(answer.status, 202);
  const result = (await messages.next()).value!;
  assertEquals(result.id, "mine");
  const text = (result.result as { content: Array<{ text: string }> }).content[0].text;
  assertEquals(JSON.parse(text), { action: "accept", content: { seats: 2, time: "20:00" } });
  assert((await messages.next()).done);
  assertEquals(gw.gateway.passthrough?.pendingRequests, 0);
  assertEquals(gw.gateway.passthrough?.inflight, 0);
});

Deno.test("pass-through: the client's cancellation reaches the backend under the backend's id", async () => {
  await using slow = await startFixture("slow");
  await using proxy = recordingProxy(slow.url);
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/slow", url: proxy.url, prefix: "s_" }],
  }));
  const s = await rawSession(gw.url);
  const res = await fetch(gw.url, {
    method: "POST",
    headers: s.headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 5,
      method: "tools/call",
      params: { name: "s_sleep", arguments: { ms: 20_000, steps: 100 }, _meta: { progressToken: "p" } },
    }),
  });
  const messages = sseMessages(res);
  const progress = (await messages.next()).value!;
  assertEquals(progress.method, "notifications/progress");
  assertEquals(gw.gateway.passthrough?.inflight, 1);
  const cancel = await post(gw.url, {
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: 5, reason: "enough" },
  }, s.headers);
  assertEquals(cancel.status, 202);
  // The stream ends without a response, as for a cancelled request.
  for await (const m of messages) assert(m.method === "notifications/progress", JSON.stringify(m));
  const backendId = proxy.bodies.find((m) => m.method === "tools/call")!.id;
  const forwarded = proxy.bodies.find((m) => m.method === "notifications/cancelled")!;
  assertEquals((forwarded.params as { requestId: unknown }).requestId, backendId);
  await using c = await connectClient(gw.url);
  await waitFor(
    async () => {
      const st = JSON.parse(firstText(await c.client.callTool({ name: "s_sleep_stats", arguments: {} })));
      return st.cancelled === 1;
    },
    5000,
    "the backend to see the cancellation",
  );
  assertEquals(gw.gateway.passthrough?.inflight, 0);
});

Deno.test("pass-through can be switched off: tools/call then goes through the SDK server and client", async () => {
  await using weather = await startFixture("weather");
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }] }),
    { toolCallPassthrough: false },
  );
  assertEquals(gw.gateway.passthrough, undefined);
  await using c = await connectClient(gw.url);
  const r = await c.client.callTool({ name: "w_search", arguments: { query: "a" } });
  assert(firstText(r).includes("weather"));
});

Deno.test("pass-through: a call cancelled before the backend said anything ends with no response", async () => {
  await using slow = await startFixture("slow");
  await using proxy = recordingProxy(slow.url);
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/slow", url: proxy.url, prefix: "s_" }],
  }));
  const s = await rawSession(gw.url);
  // No progress token: nothing comes back before the answer, so the gateway is still reading ahead.
  const pending = fetch(gw.url, {
    method: "POST",
    headers: s.headers,
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: "c1",
      method: "tools/call",
      params: { name: "s_sleep", arguments: { ms: 20_000, steps: 1 } },
    }),
  });
  // In flight is not enough: the call counts before it is sent, and a cancel before then never reaches the backend.
  await waitFor(
    () => proxy.bodies.some((m) => m.method === "tools/call"),
    5000,
    "the call to reach the backend",
  );
  const cancel = await post(gw.url, {
    jsonrpc: "2.0",
    method: "notifications/cancelled",
    params: { requestId: "c1" },
  }, s.headers);
  assertEquals(cancel.status, 202);
  const res = await pending;
  assertEquals(res.headers.get("content-type"), "text/event-stream");
  const rest = [];
  for await (const m of sseMessages(res)) rest.push(m);
  assertEquals(rest, []);
  const backendId = proxy.bodies.find((m) => m.method === "tools/call")!.id;
  const forwarded = proxy.bodies.find((m) => m.method === "notifications/cancelled")!;
  assertEquals((forwarded.params as { requestId: unknown }).requestId, backendId);
  assertEquals(gw.gateway.passthrough?.inflight, 0);
});

Deno.test("pass-through: the answer reaches the client at once though the backend keeps its stream open", async () => {
  await using weather = await startFixture("weather");
  // SSE answers to tools/call lose their end until `release`.
  await using proxy = endHoldingProxy(weather.url, () => "hold");
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/weather", url: proxy.url, prefix: "w_" }],
  }));
  const s = await rawSession(gw.url);
  let guardFired = false;
  const guard = setTimeout(() => {
    guardFired = true;
    proxy.release();
  }, 5000);
  try {
    const res = await callSearch(gw.url, s.headers, 7);
    assertEquals(res.headers.get("content-length"), null, "a lone call is streamed");
    const messages = sseMessages(res);
    const answer = (await messages.next()).value!;
    // The backend's stream was still open when the client had its answer.
    assertEquals({ held: proxy.held, guardFired }, { held: 1, guardFired: false });
    proxy.release();
    assertEquals(answer.id, 7);
    assert(JSON.stringify(answer.result).includes("weather"), JSON.stringify(answer));
    const rest = [];
    for await (const m of messages) rest.push(m);
    assertEquals(rest, []);
    await waitFor(() => gw.gateway.passthrough?.inflight === 0, 5000, "the call to end");
  } finally {
    clearTimeout(guard);
    proxy.release();
  }
});

Deno.test("pass-through: an answer whose end came with it is one body, also alone", async () => {
  await using weather = await startFixture("weather");
  // Call 1 loses its end until `release`; the others come whole, their end with them.
  await using proxy = endHoldingProxy(weather.url, (n) => n === 1 ? "hold" : "whole");
  await using gw = await startGateway(normalizeConfig({
    servers: [{ name: "test/weather", url: proxy.url, prefix: "w_" }],
  }));
  const s = await rawSession(gw.url);
  const call = (id: number) => callSearch(gw.url, s.headers, id);
  const guard = setTimeout(proxy.release, 5000);
  try {
    // Held open by the backend: a stream whatever else is in flight.
    const held = await call(1);
    const heldMessages = sseMessages(held);
    assertEquals((await heldMessages.next()).value?.id, 1);
    assertEquals(gw.gateway.passthrough?.inflight, 1);
    for (let id = 2; id < 5; id++) {
      const among = await call(id);
      assertNotEquals(among.headers.get("content-length"), null, `call ${id}, among others, is one body`);
      assertEquals((await Array.fromAsync(sseMessages(among))).map((m) => m.id), [id]);
    }
    proxy.release();
    for await (const _ of heldMessages) { /* drain */ }
    await waitFor(() => gw.gateway.passthrough?.inflight === 0, 5000, "the held call to end");
    const alone = await call(5);
    assertNotEquals(alone.headers.get("content-length"), null, "a lone call answered whole is one body");
    assertEquals((await Array.fromAsync(sseMessages(alone))).map((m) => m.id), [5]);
  } finally {
    clearTimeout(guard);
  }
});

Deno.test("pass-through: an end a write after the answer is read ahead among other calls, not for a lone call", async () => {
  await using weather = await startFixture("weather");
  // Ends 50 ms after the answer, or 200 µs after it: too late to be read with it (mostly), within a turn.
  await using late = await startSplitEndProxy(weather.url, 50_000);
  await using split = await startSplitEndProxy(weather.url, 200);
  await using held = endHoldingProxy(weather.url, () => "hold");
  await using gw = await startGateway(normalizeConfig({
    servers: [
      { name: "test/late", url: late.url, prefix: "l_" },
      { name: "test/split", url: split.url, prefix: "s_" },
      { name: "test/held", url: held.url, prefix: "h_" },
    ],
  }));
  const s = await rawSession(gw.url);
  const call = (id: number, prefix: string) => callSearch(gw.url, s.headers, id, `${prefix}search`);
  const guard = setTimeout(held.release, 5000);
  try {
    // Alone: streamed as soon as it is answered, without waiting for the backend's end.
    const alone = await call(1, "l_");
    assertEquals(alone.headers.get("content-length"), null, "a lone call is streamed");
    assertEquals((await Array.fromAsync(sseMessages(alone))).map((m) => m.id), [1]);
    // With a call held open by another backend: the end is awaited for one turn of the event loop,
    // which a loaded machine may miss: of eight calls, one is enough (without read-ahead only an end
    // that happened to be read with its answer would be, rarely all eight).
    const open = sseMessages(await call(2, "h_"));
    assertEquals((await open.next()).value?.id, 2);
    let oneBody = 0;
    for (let id = 3; id < 11; id++) {
      const among = await call(id, "s_");
      if (among.headers.get("content-length") !== null) oneBody++;
      assertEquals((await Array.fromAsync(sseMessages(among))).map((m) => m.id), [id]);
    }
    assert(oneBody > 0, "no call among others was read ahead into one body");
    held.release();
    for await (const _ of open) { /* drain */ }
  } finally {
    clearTimeout(guard);
  }
});
