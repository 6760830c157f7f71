import { assert, assertEquals } from "../test/helpers/assert.ts";
// @ts-types="@modelcontextprotocol/sdk/server/index"
import { Server } from "@modelcontextprotocol/sdk/server/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolRequestSchema, ListToolsRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import {
  jsonRpcError,
  preserialized,
  singleAnswer,
  TOOL_NOT_FOUND,
  toolNotFound,
  writeKnownResults,
} from "./answers.ts";

const encoder = new TextEncoder();

/**
 * An event stream as the SDK transport answers a request: `chunks` are written one by one (a
 * string per chunk); with `open` the stream then stays open. `cancelled` resolves when the reader
 * of the answer cancels it.
 */
function sdkStream(chunks: string[], opts: { open?: boolean } = {}) {
  let cancelled!: (reason: unknown) => void;
  const gotCancel = new Promise<unknown>((resolve) => cancelled = resolve);
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(encoder.encode(chunks[i++]));
      else if (!opts.open) controller.close();
      else return new Promise(() => {});
    },
    cancel(reason) {
      cancelled(reason);
    },
  });
  const res = new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache, no-transform",
      connection: "keep-alive",
      "x-accel-buffering": "no",
      "mcp-session-id": "sess-1",
    },
  });
  return { res, cancelled: gotCancel };
}

const event = (m: unknown) => `event: message\ndata: ${JSON.stringify(m)}\n\n`;
const ping = { result: {}, jsonrpc: "2.0", id: 2 };

Deno.test("singleAnswer: an answer that is the stream's first event comes as the broker's JSON body", async () => {
  const sdk = sdkStream([event(ping)], { open: true });
  const res = await singleAnswer(sdk.res);
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(res.headers.get("mcp-session-id"), "sess-1");
  for (const h of ["cache-control", "connection", "x-accel-buffering"]) {
    assertEquals(res.headers.get(h), null);
  }
  // broker v0.9.0 observed, 3.2 (ping): jsonrpc and id first, newline-ended, 37 bytes.
  assertEquals(await res.text(), '{"jsonrpc":"2.0","id":2,"result":{}}\n');
  // The SDK's stream is let go of without waiting for its end.
  assertEquals(await sdk.cancelled, undefined);
});

Deno.test("singleAnswer: a result in one chunk comes as the body parsing and re-serialising it would give, byte for byte", async () => {
  // Results whose text tempts a byte-level reading: the tail's keys nested inside the result and in
  // strings, multi-byte text near the end, ids of every shape JSON-RPC allows.
  const results = [
    { tools: Array.from({ length: 2000 }, (_, i) => ({ name: `t${i}`, inputSchema: { type: "object" } })) },
    { nested: { jsonrpc: "2.0", id: 5 }, text: ',"jsonrpc":"2.0","id":7}' },
    { text: 'é😀\u2028\n"}' + "ü".repeat(600) },
    { big: 1e21, small: -0.000001, neg: -0, list: [] },
    {},
  ];
  const ids: unknown[] = [0, 17, -3, "a", 'q"uo\\te,"jsonrpc":"2.0","id":1}', "ü😀", ""];
  for (const result of results) {
    for (const id of ids) {
      const message = { result, jsonrpc: "2.0", id };
      const sdk = sdkStream([event(message)], { open: true });
      const res = await singleAnswer(sdk.res);
      assertEquals(res.headers.get("content-type"), "application/json");
      assertEquals(res.headers.get("mcp-session-id"), "sess-1");
      assertEquals(await res.text(), `${JSON.stringify({ jsonrpc: "2.0", id, result })}\n`);
      assertEquals(await sdk.cancelled, undefined);
    }
  }
  // Two events in one chunk, the answer second: the stream is kept, as when they come apart.
  const two = event({ jsonrpc: "2.0", method: "notifications/message", params: {} }) + event(ping);
  const kept = await singleAnswer(sdkStream([two]).res);
  assertEquals(kept.headers.get("content-type"), "text/event-stream");
  assertEquals(await kept.text(), two);
  // A result event followed by another in the same chunk: the first event decides, as before.
  const after = event(ping) + event({ jsonrpc: "2.0", method: "notifications/message", params: {} });
  assertEquals(
    await (await singleAnswer(sdkStream([after]).res)).text(),
    '{"jsonrpc":"2.0","id":2,"result":{}}\n',
  );
});

Deno.test("singleAnswer: keep-alive comments and split chunks before the answer change nothing", async () => {
  const text = event({ jsonrpc: "2.0", id: "a", error: { code: -32602, message: "bad" } });
  const sdk = sdkStream([": keepalive\n\n", text.slice(0, 10), text.slice(10, 30), text.slice(30)]);
  const res = await singleAnswer(sdk.res);
  assertEquals(res.headers.get("content-type"), "application/json");
  assertEquals(await res.text(), '{"jsonrpc":"2.0","id":"a","error":{"code":-32602,"message":"bad"}}\n');
});

Deno.test("singleAnswer: anything before the answer keeps the stream, every byte as the SDK wrote it", async () => {
  const chunks = [
    ": keepalive\n\n",
    event({ jsonrpc: "2.0", method: "notifications/progress", params: { progressToken: 1, progress: 1 } }),
    event({ jsonrpc: "2.0", id: 9, method: "elicitation/create", params: {} }).slice(0, 5),
    event({ jsonrpc: "2.0", id: 9, method: "elicitation/create", params: {} }).slice(5),
    event(ping),
  ];
  const res = await singleAnswer(sdkStream(chunks).res);
  assertEquals(res.headers.get("content-type"), "text/event-stream");
  assertEquals(res.headers.get("mcp-session-id"), "sess-1");
  assertEquals(await res.text(), chunks.join(""));
});

Deno.test("singleAnswer: the client going away ends the read-ahead and cancels the SDK's stream", async () => {
  const sdk = sdkStream([": keepalive\n\n"], { open: true });
  const ac = new AbortController();
  const answer = singleAnswer(sdk.res, ac.signal);
  const first = await Promise.race([
    answer.then(() => "answered"),
    new Promise((r) => setTimeout(r, 50, "wait")),
  ]);
  assertEquals(first, "wait", "nothing to answer yet");
  ac.abort();
  const res = await answer;
  await res.body?.cancel();
  await sdk.cancelled;
  // Already gone before it started: not read at all.
  const gone = sdkStream([event(ping)], { open: true });
  const late = await singleAnswer(gone.res, AbortSignal.abort());
  await late.body?.cancel();
  await gone.cancelled;
});

Deno.test("singleAnswer: a stream ending without an answer, and answers that are no stream, pass as they are", async () => {
  const empty = await singleAnswer(sdkStream([": keepalive\n\n"]).res);
  assertEquals(empty.headers.get("content-type"), "text/event-stream");
  assertEquals(await empty.text(), ": keepalive\n\n");
  const json = new Response("{}", { status: 400, headers: { "content-type": "application/json" } });
  assert((await singleAnswer(json)) === json);
  const accepted = new Response(null, { status: 202 });
  assert((await singleAnswer(accepted)) === accepted);
});

Deno.test("the broker's and the router's own answers, byte for byte", async () => {
  // broker v0.9.0 observed, 3.7 (tasks/list).
  const err = jsonRpcError(2, -32601, "tasks not supported");
  assertEquals(err.status, 200);
  assertEquals(err.headers.get("content-type"), "application/json");
  assertEquals(
    await err.text(),
    '{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"tasks not supported"}}\n',
  );
  // broker v0.9.0 observed, section 4 R1 and R9.
  assertEquals(TOOL_NOT_FOUND, "MCP error -32602: Tool not found");
  for (const id of [7, "abc"]) {
    const res = toolNotFound(id, "sess-1");
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/event-stream");
    assertEquals(res.headers.get("mcp-session-id"), "sess-1");
    assertEquals(
      await res.text(),
      `\nevent: message\ndata: {"jsonrpc":"2.0","id":${
        JSON.stringify(id)
      },"result":{"content":[{"type":"text","text":"MCP error -32602: Tool not found"}],"isError":true}}\n\n`,
    );
  }
});

Deno.test("writeKnownResults: a preserialized result is written as the very bytes the SDK writes, and answered alike", async () => {
  const few = [
    { name: "a", inputSchema: { type: "object" }, annotations: {} },
    { name: "b", description: 'é😀 "quoted"\n', inputSchema: { type: "object" }, annotations: {} },
  ];
  // Over singleAnswer's copy limit: its answer is a stream of the known text, not a copy.
  const many = Array.from({ length: 2000 }, (_, i) => ({ name: `t${i}`, inputSchema: { type: "object" } }));
  // Two sessions answering alike, one written from the known text; each answer as the SDK's stream
  // and as the broker's body.
  const answer = async (tools: unknown[], known: boolean, id: unknown, text?: Uint8Array) => {
    const json = text ?? encoder.encode(JSON.stringify(tools));
    const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: () => "s" });
    const server = new Server({ name: "t", version: "1" }, { capabilities: { tools: {} } });
    server.setRequestHandler(
      ListToolsRequestSchema,
      () => known ? preserialized("tools", tools, json) : { tools },
    );
    server.setRequestHandler(CallToolRequestSchema, () => ({ content: [] }));
    if (known) writeKnownResults(transport);
    await server.connect(transport);
    const post = (body: unknown) =>
      transport.handleRequest(
        new Request("http://127.0.0.1/mcp", {
          method: "POST",
          headers: {
            accept: "application/json, text/event-stream",
            "content-type": "application/json",
            ...(transport.sessionId ? { "mcp-session-id": "s", "mcp-protocol-version": "2025-06-18" } : {}),
          },
          body: JSON.stringify(body),
        }),
      );
    await (await post({
      jsonrpc: "2.0",
      id: 0,
      method: "initialize",
      params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "c", version: "1" } },
    })).text();
    const list = { jsonrpc: "2.0", id, method: "tools/list" };
    const texts = [
      await (await post(list)).text(),
      await (await singleAnswer(await post(list))).text(),
      await (await post({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "x" } })).text(),
    ];
    await server.close();
    return texts;
  };
  for (const tools of [few, many]) {
    for (const id of [1, "req-é", 0]) {
      const sdk = await answer(tools, false, id);
      assertEquals(await answer(tools, true, id), sdk);
      assert(sdk[0].includes('"tools":[{"name":'), sdk[0]);
      assertEquals(sdk[1], `${JSON.stringify({ jsonrpc: "2.0", id, result: { tools } })}\n`);
    }
  }
  // The known text is what is written, not the value serialised again.
  const [event, body] = await answer(few, true, 1, encoder.encode('["known"]'));
  assertEquals(event, 'event: message\ndata: {"result":{"tools":["known"]},"jsonrpc":"2.0","id":1}\n\n');
  assertEquals(body, '{"jsonrpc":"2.0","id":1,"result":{"tools":["known"]}}\n');
});
