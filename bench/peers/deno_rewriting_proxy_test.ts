import { assertEquals } from "../../test/helpers/assert.ts";
import { startServer } from "../lib.ts";

/** POSTs `message` through the proxy at `url`; the answer's body as text. */
async function post(url: string, message: unknown): Promise<{ status: number; type: string; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify(message),
  });
  return { status: res.status, type: res.headers.get("content-type") ?? "", text: await res.text() };
}

Deno.test("the rewriting floor gives the backend its own ids and restores the client's in the answer", async () => {
  const seen: unknown[] = [];
  await using backend = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const msg = await req.json();
    seen.push(msg.id);
    if (msg.method === "json") return Response.json({ jsonrpc: "2.0", id: msg.id, result: {} });
    if (msg.id === undefined) return new Response(null, { status: 202 });
    // A notification, an answer to another id, then the answer, split over chunks and in CRLF lines.
    const events = [
      { jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } },
      { jsonrpc: "2.0", id: "floor-999", result: {} },
      { jsonrpc: "2.0", id: msg.id, result: { content: [] } },
    ].map((m) => `event: message\r\ndata: ${JSON.stringify(m)}\r\n\r\n`).join("");
    const bytes = new TextEncoder().encode(events);
    return new Response(
      new ReadableStream({
        start(c) {
          c.enqueue(bytes.subarray(0, 50));
          c.enqueue(bytes.subarray(50));
          c.close();
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  });
  const proxy = await startServer("rewriting proxy", "bench/peers/deno_rewriting_proxy.ts", [
    `http://127.0.0.1:${backend.addr.port}/mcp`,
  ]);
  try {
    const sse = await post(proxy.url, { jsonrpc: "2.0", id: 7, method: "tools/call", params: {} });
    assertEquals([sse.status, sse.type], [200, "text/event-stream"]);
    const data = sse.text.split("\n").filter((l) => l.startsWith("data: ")).map((l) =>
      JSON.parse(l.slice(6))
    );
    assertEquals(data.map((m) => m.id), [undefined, "floor-999", 7]);
    const json = await post(proxy.url, { jsonrpc: "2.0", id: "x", method: "json" });
    assertEquals(JSON.parse(json.text).id, "x");
    const note = await post(proxy.url, { jsonrpc: "2.0", method: "notifications/initialized" });
    assertEquals(note.status, 202);
    assertEquals(seen, ["floor-1", "floor-2", undefined]);
  } finally {
    await proxy.server.stop();
  }
});
