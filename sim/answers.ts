/**
 * Answers framed as the cluster frames them. The broker answers a request whose answer is one
 * JSON-RPC message with an `application/json` body (broker v0.9.0 observed: http_compat.go frames
 * it with Go's `json.Encoder`, so the body ends with a newline), while the SDK transport the
 * simulator uses answers every request as an event stream. `singleAnswer` turns the SDK's stream
 * into the broker's body when the answer is all the stream holds, and leaves it a stream as soon
 * as anything comes first (progress, a log message, a backend's request to the client).
 *
 * @module
 */
import { type SseEvent, SseReader } from "./sse.ts";
import { relayBody } from "./streams.ts";
import { RpcCode } from "./transport.ts";

/** Headers of the SDK's event stream that do not belong on a JSON body. */
const STREAM_ONLY_HEADERS = ["content-type", "cache-control", "connection", "x-accel-buffering"];

/**
 * A JSON-RPC error as the broker answers one: HTTP 200, `application/json`, the body newline-ended
 * as Go's `json.Encoder` writes it.
 */
export function jsonRpcError(id: unknown, code: number, message: string): Response {
  const body = JSON.stringify({ jsonrpc: "2.0", id: id ?? null, error: { code, message } });
  return new Response(`${body}\n`, { headers: { "content-type": "application/json" } });
}

/**
 * `data` (one SSE event's data) as the broker writes a JSON-RPC response, `jsonrpc` and `id` first;
 * undefined when it is not a response (a request or notification that came before it).
 */
function asResponse(data: string): string | undefined {
  let m;
  try {
    m = JSON.parse(data);
  } catch {
    return undefined;
  }
  const response = typeof m === "object" && m !== null && !Array.isArray(m) && m.method === undefined &&
    m.id !== undefined && ("result" in m || "error" in m);
  return response ? JSON.stringify({ jsonrpc: m.jsonrpc, id: m.id, ...m }) : undefined;
}

/**
 * The SDK transport's answer `res` to one JSON-RPC request, as the broker would send it: when the
 * first event of its stream is the response, that response as an `application/json` body; else
 * (something came before it) the stream, starting with what was read. Anything but a 200 event
 * stream is returned as it is.
 *
 * Only the first event is waited for, never the end of the stream. `signal` is the client's
 * request: when the client goes away meanwhile, the SDK's stream is cancelled (as it would be had
 * the client left a stream it was reading) and an empty stream is returned.
 */
export async function singleAnswer(res: Response, signal?: AbortSignal): Promise<Response> {
  const ct = res.headers.get("content-type") ?? "";
  if (res.status !== 200 || !res.body || !ct.includes("text/event-stream")) return res;
  const reader = res.body.getReader();
  // The SDK's own stream, not a backend's: no cap beyond what the SDK wrote.
  const events = new SseReader({ maxLineBytes: Infinity, maxEventBytes: Infinity });
  const read: Uint8Array[] = [];
  const gone = new Promise<"gone">((resolve) => {
    if (signal?.aborted) resolve("gone");
    signal?.addEventListener("abort", () => resolve("gone"), { once: true });
  });
  for (;;) {
    const r = await Promise.race([reader.read(), gone]);
    if (r === "gone") {
      await reader.cancel().catch(() => {});
      return new Response(null, { status: res.status, headers: res.headers });
    }
    if (r.done) return new Response(concat(read), { status: res.status, headers: res.headers });
    read.push(r.value);
    // The first event decides; comments (keep-alives) are none.
    let first: SseEvent | undefined;
    events.push(r.value, (e) => first ??= e);
    if (!first) continue;
    const response = asResponse(first.data);
    if (response === undefined) {
      return new Response(relayBody(reader, { head: concat(read) }), {
        status: res.status,
        headers: res.headers,
      });
    }
    await reader.cancel().catch(() => {});
    const headers = new Headers(res.headers);
    for (const h of STREAM_ONLY_HEADERS) headers.delete(h);
    headers.set("content-type", "application/json");
    return new Response(`${response}\n`, { status: 200, headers });
  }
}

/** The bytes of `chunks` as one array. */
function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/**
 * The cluster's answer to a `tools/call` of a tool no server has: the router answers it itself,
 * before the broker, as a tool result with `isError` in an event stream (broker v0.9.0 observed,
 * section 4 R1: routing/router_202511.go, mcp_request.go), the session id echoed.
 */
export function toolNotFound(id: unknown, sessionId: string): Response {
  const message = {
    jsonrpc: "2.0",
    id,
    result: { content: [{ type: "text", text: TOOL_NOT_FOUND }], isError: true },
  };
  return new Response(`\nevent: message\ndata: ${JSON.stringify(message)}\n\n`, {
    headers: { "content-type": "text/event-stream", "mcp-session-id": sessionId },
  });
}

/** The text of the router's tool result for an unknown tool. */
export const TOOL_NOT_FOUND = "MCP error -32602: Tool not found";

/**
 * The cluster's answer to a `prompts/get` of a prompt no server has: the router answers it itself,
 * before the auth filter, with `-32602 "Prompt not found"` in an event stream, the session id echoed
 * (routing/router_202511.go `routePromptGet`). Upstream's event leaves out the request's id, so no
 * client can match it to its request; this one carries it.
 */
export function promptNotFound(id: unknown, sessionId: string): Response {
  const message = { jsonrpc: "2.0", id, error: { code: RpcCode.InvalidParams, message: PROMPT_NOT_FOUND } };
  return new Response(`\nevent: message\ndata: ${JSON.stringify(message)}\n\n`, {
    headers: { "content-type": "text/event-stream", "mcp-session-id": sessionId },
  });
}

/** The message of the router's error for an unknown prompt. */
export const PROMPT_NOT_FOUND = "Prompt not found";
