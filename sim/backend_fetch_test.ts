/**
 * HTTP to untrusted backends: redirects, capped bodies, and the SDK client's bounded fetch, against
 * real HTTP servers on loopback.
 */
import { assert, assertEquals, assertRejects, assertStringIncludes } from "../test/helpers/assert.ts";
import {
  BackendBodyLimitError,
  backendHeaders,
  BackendRedirectError,
  boundedFetch,
  chunkReader,
  fetchBackend,
  MAX_BACKEND_REDIRECTS,
  readBody,
} from "./backend_fetch.ts";
import { UpstreamError } from "./errors.ts";

const enc = new TextEncoder();

/** A loopback server answering with `handler`; `other` is its origin under its other loopback name. */
function serve(handler: (req: Request, url: URL) => Response | Promise<Response>) {
  const hits: string[] = [];
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    hits.push(`${url.hostname}${url.pathname}`);
    return handler(req, url);
  });
  const port = server.addr.port;
  return {
    base: `http://127.0.0.1:${port}`,
    other: `http://localhost:${port}`,
    hits,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

const to = (location: string, status = 307) => new Response(null, { status, headers: { location } });
const opts = { server: "ns/backend", what: "tools/call" };

Deno.test("fetchBackend: follows 307 and 308 within the origin, bounded; refuses other origins and method changes", async () => {
  await using s = serve((req, url) => {
    switch (url.pathname) {
      case "/same":
        return to("/ok");
      case "/perm":
        return to(`${s.base}/ok`, 308);
      case "/away":
        return to(`${s.other}/ok?token=secret`);
      case "/userinfo":
        return to(`http://user:pass@127.0.0.1:${url.port}/ok`);
      case "/see-other":
        return to("/ok", 303);
      case "/none":
        return new Response(null, { status: 302 });
      case "/loop":
        return to("/loop");
      default:
        return new Response(`${req.method} ${url.pathname}`);
    }
  });
  const post = (path: string) => fetchBackend(new URL(path, s.base), { method: "POST", body: "{}" }, opts);
  assertEquals(await (await post("/same")).text(), "POST /ok");
  assertEquals(await (await post("/perm")).text(), "POST /ok");
  // A GET may follow any redirect within the origin.
  const get = await fetchBackend(new URL("/see-other", s.base), {}, opts);
  assertEquals(await get.text(), "GET /ok");

  const refused = async (path: string, message: string) => {
    const err = await assertRejects(() => post(path), BackendRedirectError);
    assertEquals([err.code, err.server, err.message], ["ERR_UPSTREAM_REDIRECT", "ns/backend", message]);
  };
  await refused(
    "/away",
    `Server ns/backend redirected tools/call to another origin (${s.other}); ` +
      "redirects are followed only within the server's origin.",
  );
  await refused(
    "/userinfo",
    "Server ns/backend redirected tools/call to a URL with other credentials in it.",
  );
  await refused(
    "/see-other",
    "Server ns/backend answered tools/call with HTTP 303, a redirect that would change the method.",
  );
  await refused("/none", "Server ns/backend answered tools/call with HTTP 302 and no usable Location.");
  const before = s.hits.filter((h) => h.endsWith("/loop")).length;
  await refused("/loop", `Server ns/backend redirected tools/call more than ${MAX_BACKEND_REDIRECTS} times.`);
  assertEquals(s.hits.filter((h) => h.endsWith("/loop")).length - before, MAX_BACKEND_REDIRECTS + 1);
  // Nothing ever reached the other origin.
  assert(!s.hits.some((h) => h.startsWith("localhost")), s.hits.join());
});

Deno.test("readBody: reads up to the cap, fails past it or cuts it short", async () => {
  const body = (...parts: string[]) =>
    new ReadableStream<Uint8Array>({
      start(c) {
        for (const p of parts) c.enqueue(enc.encode(p));
        c.close();
      },
    });
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  assertEquals(dec(await readBody(body("abc", "def"), 6, opts)), "abcdef");
  assertEquals(dec(await readBody(null, 6, opts)), "");
  const err = await assertRejects(() => readBody(body("abc", "defg"), 6, opts), BackendBodyLimitError);
  assertEquals([err.code, err.limit], ["ERR_UPSTREAM_BODY_LIMIT", 6]);
  assertEquals(err.message, "Server ns/backend answered tools/call with a body over the 6-byte limit.");
  assertEquals(dec(await readBody(body("abc", "defg"), 5, { ...opts, truncate: true })), "abcde");
  // An endless body is not read past the cap.
  let pulls = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull: (c) => void (pulls++, c.enqueue(enc.encode("x".repeat(100)))),
  });
  await assertRejects(() => readBody(endless, 1000, opts), BackendBodyLimitError);
  assert(pulls <= 12, `${pulls} pulls`);
});

Deno.test("chunkReader: a fetch body read through one growing buffer, byte for byte; other streams as they are", async () => {
  // 300 KiB in pieces of 5,000 bytes, the server flushing each: reads smaller and larger than the buffer.
  const whole = new Uint8Array(300 * 1024).map((_, i) => (i * 7 + (i >> 10)) & 0xff);
  await using s = serve(() =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (let at = 0; at < whole.length; at += 5000) c.enqueue(whole.slice(at, at + 5000));
          c.close();
        },
      }),
    )
  );
  const res = await fetch(s.base);
  const reader = chunkReader(res.body!);
  const got = new Uint8Array(whole.length);
  let size = 0;
  let largest = 0;
  for (let reads = 0; reads < 10_000; reads++) {
    const r = await reader.read();
    if (r.done) break;
    // Each chunk is used before the next read, as the reader requires.
    got.set(r.value, size);
    size += r.value.byteLength;
    largest = Math.max(largest, r.value.buffer.byteLength);
  }
  assertEquals(size, whole.length);
  assertEquals(got, whole);
  assert(largest <= 64 * 1024, `a read used a ${largest}-byte buffer`);

  // A stream that is not a byte stream has no BYOB reader: its default reader reads it.
  const plain = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(enc.encode("a"));
      c.enqueue(enc.encode("b"));
      c.close();
    },
  });
  const r2 = chunkReader(plain);
  assertEquals(new TextDecoder().decode((await r2.read()).value), "a");
  assertEquals(new TextDecoder().decode((await r2.read()).value), "b");
  assertEquals((await r2.read()).done, true);

  // Cancelling ends a pending read of a body that never ends.
  await using hang = serve(() =>
    new Response(new ReadableStream({ start: (c) => c.enqueue(enc.encode("x")) }))
  );
  const r3 = chunkReader((await fetch(hang.base)).body!);
  assertEquals((await r3.read()).value?.byteLength, 1);
  const pending = r3.read();
  await r3.cancel();
  assertEquals((await pending).done, true);
});

Deno.test("chunkReader: a buffer that reads fill grows to 64 KiB; a body read to its end lends its buffer to the next, never to two at once", async () => {
  const big = new Uint8Array(1024 * 1024).map((_, i) => (i * 13) & 0xff);
  await using s = serve((_req, url) =>
    new Response(url.pathname === "/big" ? big : `body ${url.pathname.slice(1)}`)
  );
  const reader = chunkReader((await fetch(`${s.base}/big`)).body!);
  const got = new Uint8Array(big.length);
  let size = 0;
  const buffers = new Set<number>();
  for (;;) {
    const r = await reader.read();
    if (r.done) break;
    got.set(r.value, size);
    size += r.value.byteLength;
    buffers.add(r.value.buffer.byteLength);
  }
  assertEquals(got, big);
  assertEquals(Math.max(...buffers), 64 * 1024);
  assertEquals((await reader.read()).done, true, "a read after the end");

  // Bodies read one after another (first buffers handed on) and two at once: each reads its own bytes.
  const text = async (r: ReturnType<typeof chunkReader>) => {
    let out = "";
    for (let x = await r.read(); !x.done; x = await r.read()) out += new TextDecoder().decode(x.value);
    return out;
  };
  for (let i = 0; i < 5; i++) {
    assertEquals(await text(chunkReader((await fetch(`${s.base}/${i}`)).body!)), `body ${i}`);
  }
  const a = chunkReader((await fetch(`${s.base}/aaaa`)).body!);
  const b = chunkReader((await fetch(`${s.base}/b`)).body!);
  const first = await a.read();
  const second = await b.read();
  assertEquals(new TextDecoder().decode(first.value), "body aaaa");
  assertEquals(new TextDecoder().decode(second.value), "body b");
  assertEquals((await a.read()).done, true);
  assertEquals((await b.read()).done, true);
});

Deno.test("boundedFetch: the answer to a request carries only its own responses, within the cap", async () => {
  const sse = (text: string) => new Response(text, { headers: { "content-type": "text/event-stream" } });
  const json = (body: unknown) => Response.json(body);
  const flood = (head: string) =>
    new Response(
      new ReadableStream({
        start: (c) => c.enqueue(enc.encode(head)),
        pull: (c) => c.enqueue(enc.encode("x".repeat(4096))),
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  await using s = serve(async (req, url) => {
    const id = req.method === "POST" ? (await req.json()).id : undefined;
    const r = (rid: unknown, text: string) => ({ jsonrpc: "2.0", id: rid, result: { text } });
    switch (url.pathname) {
      case "/json-foreign":
        return json(r(99, "spoof"));
      case "/json-batch":
        return json([r(99, "spoof"), { jsonrpc: "2.0", method: "notifications/x" }, r(id, "mine")]);
      case "/json-big":
        return json(r(id, "x".repeat(2000)));
      case "/sse":
        return sse(
          `data: ${JSON.stringify(r(99, "spoof"))}\n\n` +
            `data: {"jsonrpc":"2.0",\ndata: "id":"${id}","result":{}}\r\r` +
            `id: e1\ndata: ${JSON.stringify({ jsonrpc: "2.0", method: "notifications/x" })}\n\n` +
            `data: ${JSON.stringify(r(id, "mine"))}\n\n: trailing comment\n`,
        );
      case "/sse-flood":
        return flood("data: ");
      case "/error":
        return new Response("e".repeat(5000), { status: 500 });
      case "/redirect":
        return to("/elsewhere");
      default:
        return new Response("unknown", { status: 404 });
    }
  });
  const logs: string[] = [];
  const f = boundedFetch({ server: "ns/backend", maxBytes: 1000, log: (_level, msg) => logs.push(msg) });
  const call = (path: string, id: unknown = 5) =>
    f(`${s.base}${path}`, {
      method: "POST",
      body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call" }),
    });

  assertEquals(await (await call("/json-foreign")).json(), {
    jsonrpc: "2.0",
    id: 5,
    error: {
      code: -32603,
      message: "Server ns/backend answered tools/call with a response to another request.",
    },
  });
  assertEquals(logs, [
    "Server ns/backend sent a response to a request other than this tools/call; it was dropped.",
  ]);
  const batch = await (await call("/json-batch")).json();
  assertEquals(batch.map((m: { id?: unknown; method?: string }) => m.method ?? m.id), ["notifications/x", 5]);
  const big = await (await call("/json-big")).json();
  assertEquals(
    big.error.message,
    "Server ns/backend answered tools/call with a body over the 1000-byte limit.",
  );

  // SSE: responses to other ids go (the string "5" is not 5), the rest is written again.
  const text = await (await call("/sse")).text();
  assertEquals(
    text,
    'event: message\nid: e1\ndata: {"jsonrpc":"2.0","method":"notifications/x"}\n\n' +
      'event: message\ndata: {"jsonrpc":"2.0","id":5,"result":{"text":"mine"}}\n\n',
  );
  // A flood answers the request with an error naming the server and the cap.
  const flooded = await (await call("/sse-flood")).text();
  assertStringIncludes(
    flooded,
    '"id":5,"error":{"code":-32603,"message":"Server ns/backend sent an SSE line over the 1000-byte limit during tools/call."}',
  );
  // A stream with no request of its own fails instead.
  const get = await f(`${s.base}/sse-flood`, { method: "GET" });
  const err = await assertRejects(() => get.text());
  assert(err instanceof UpstreamError || String(err).includes("1000-byte limit"), String(err));

  const failed = await call("/error");
  assertEquals([failed.status, (await failed.text()).length], [500, 300]);
  const redirect = await f(`${s.base}/redirect`, { method: "POST", body: "{}", redirect: "manual" });
  assertEquals([redirect.status, redirect.headers.get("location")], [307, "/elsewhere"]);
  await redirect.body?.cancel();
});

Deno.test("backendHeaders: a policy's success headers go last, replacing the credential but not the transport's", () => {
  const target = {
    endpoint: new URL("http://127.0.0.1:1/mcp"),
    credential: "Bearer registration",
    sessionId: "backend-session",
    protocolVersion: "2025-11-25",
  };
  assertEquals(backendHeaders(target).authorization, "Bearer registration");
  assertEquals(
    backendHeaders({
      ...target,
      policyHeaders: {
        "X-Mcp-Authorized": "wristband",
        Authorization: "Bearer exchanged",
        "mcp-session-id": "forged",
        "Content-Type": "text/plain",
      },
    }),
    {
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": "backend-session",
      "mcp-protocol-version": "2025-11-25",
      authorization: "Bearer exchanged",
      "x-mcp-authorized": "wristband",
    },
  );
});
