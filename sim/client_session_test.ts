/** One client session as this process holds it: the headers it forwards, attribute hand-over, open streams. */
import { assert, assertEquals } from "../test/helpers/assert.ts";
import { bareSession } from "../test/sim_stages.ts";
import type { RequestAttributes } from "./routing.ts";

Deno.test("userHeaders: the latest request's own headers, re-read when the next request comes", () => {
  const s = bareSession();
  assertEquals(s.userHeaders, {});
  s.requestHeaders = new Headers({
    authorization: "Bearer alice",
    "mcp-session-id": "sid",
    "x-mcp-virtualserver": "ns/vs",
    cookie: "gw=1",
    "x-tenant": "a",
  });
  assertEquals(s.userHeaders, { authorization: "Bearer alice", "x-tenant": "a" });
  s.requestHeaders = new Headers({ authorization: "Bearer bob", accept: "application/json" });
  assertEquals(s.userHeaders, { authorization: "Bearer bob" });
});

const attrs = (serverName: string): RequestAttributes => ({ method: "tools/call", serverName });

Deno.test('handOver/takeAttributes: taken once, by JSON id (1 and "1" differ)', () => {
  const s = bareSession();
  s.handOver(1, attrs("a"));
  s.handOver("1", attrs("b"));
  assertEquals(s.takeAttributes(1), attrs("a"));
  assertEquals(s.takeAttributes(1), undefined);
  assertEquals(s.takeAttributes("1"), attrs("b"));
  assertEquals(s.takeAttributes("1"), undefined);
  assertEquals(s.pendingAttributes.size, 0);
});

Deno.test("handOver: attributes no handler took are dropped on the next turn of the event loop", async () => {
  const s = bareSession();
  s.handOver(7, attrs("a"));
  assertEquals(s.pendingAttributes.size, 1);
  await new Promise((r) => setTimeout(r, 5));
  assertEquals(s.pendingAttributes.size, 0);
  assertEquals(s.takeAttributes(7), undefined);
});

/** A streaming response whose body the test feeds and ends. */
function streamed() {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let cancelled: unknown = "not cancelled";
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    cancel: (reason) => void (cancelled = reason),
  });
  const res = new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
  return { res, controller, cancelled: () => cancelled };
}

Deno.test("trackStream: counts a stream open until it ends, then marks the session used", async () => {
  const s = bareSession();
  s.lastUsed = 0;
  const a = streamed();
  const b = streamed();
  const ra = s.trackStream(a.res);
  const rb = s.trackStream(b.res);
  assertEquals(s.openStreams, 2);
  assertEquals(ra.status, 200);
  assertEquals(ra.headers.get("content-type"), "text/event-stream");
  const reader = ra.body!.getReader();
  a.controller.enqueue(new TextEncoder().encode("data: {}\n\n"));
  assertEquals(new TextDecoder().decode((await reader.read()).value), "data: {}\n\n");
  assertEquals(s.openStreams, 2);
  a.controller.close();
  assert((await reader.read()).done);
  assertEquals(s.openStreams, 1);
  assert(s.lastUsed > 0);
  // The client going away cancels the stream: counted once, and the cancel reaches the source.
  await rb.body!.cancel("client gone");
  assertEquals(s.openStreams, 0);
  assertEquals(b.cancelled(), "client gone");
  await rb.body!.cancel().catch(() => {});
  assertEquals(s.openStreams, 0);
});

Deno.test("trackStream: a failing stream ends too; a response without a body is not counted", async () => {
  const s = bareSession();
  const a = streamed();
  const reader = s.trackStream(a.res).body!.getReader();
  assertEquals(s.openStreams, 1);
  a.controller.error(new Error("backend went away"));
  let failed = false;
  await reader.read().catch(() => failed = true);
  assert(failed);
  assertEquals(s.openStreams, 0);
  const empty = new Response(null, { status: 202 });
  assert(s.trackStream(empty) === empty);
  assertEquals(s.openStreams, 0);
});
