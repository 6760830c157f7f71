/**
 * HTTP to untrusted backends: redirects and capped bodies, against
 * real HTTP servers on loopback.
 */
import { assert, assertEquals, assertRejects } from "../test/helpers/assert.ts";
import {
  BackendBodyLimitError,
  BackendRedirectError,
  fetchBackend,
  MAX_BACKEND_REDIRECTS,
  readBody,
} from "./backend_fetch.ts";

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
