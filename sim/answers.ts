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
// @ts-types="@modelcontextprotocol/sdk/server/webStandardStreamableHttp"
import type { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { type SseEvent, SseReader } from "./sse.ts";
import { concatBytes, relayBody } from "./streams.ts";
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

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const LF = 0x0a;
const CLOSE_BRACE = 0x7d;
/** How the SDK writes a result: `{result, jsonrpc, id}` in that order (protocol.js), one event per chunk. */
const RESULT_EVENT_HEAD = encoder.encode('event: message\ndata: {"result":');
/** What follows the result in the SDK's message; in JSON text it cannot occur inside a string. */
const RESULT_TAIL = ',"jsonrpc":"2.0","id":';
/** A JSON-RPC id as `JSON.stringify` writes it: a number or a string. */
const RPC_ID = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|"(?:[^"\\]|\\.)*")$/;
/** The longest tail (`RESULT_TAIL`, the id, `}`) looked for at the end of the event. */
const MAX_TAIL_BYTES = 512;
/** What ends the broker's body after the result. */
const RESULT_END = encoder.encode("}\n");
/** A body larger than this is sent as a stream of its parts instead of copied into one array. */
const COPY_LIMIT_BYTES = 64 * 1024;

/**
 * The body `asResponse` makes of `chunk` when the chunk is one whole event of the SDK holding a
 * result, made from the bytes without parsing or re-serialising the result (a `tools/list` of
 * thousands of tools is megabytes); undefined for any other chunk, which takes the general path.
 * The result's text is `JSON.stringify`'s, so parsing and writing it again would give the same bytes.
 */
function resultBody(chunk: Uint8Array): Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> | undefined {
  const n = chunk.length;
  const head = RESULT_EVENT_HEAD.length;
  if (n < head + RESULT_TAIL.length + 4 || chunk[n - 1] !== LF || chunk[n - 2] !== LF) return undefined;
  if (chunk[n - 3] !== CLOSE_BRACE) return undefined;
  for (let i = 0; i < head; i++) if (chunk[i] !== RESULT_EVENT_HEAD[i]) return undefined;
  // One data line and nothing after it: the chunk is exactly one event.
  if (chunk.indexOf(LF, head) !== n - 2) return undefined;
  const from = Math.max(head, n - 3 - MAX_TAIL_BYTES);
  const tail = decoder.decode(chunk.subarray(from, n - 3));
  const at = tail.lastIndexOf(RESULT_TAIL);
  if (at < 0) return undefined;
  const id = tail.slice(at + RESULT_TAIL.length);
  if (!RPC_ID.test(id)) return undefined;
  const resultEnd = n - 3 - encoder.encode(tail.slice(at)).length;
  const before = encoder.encode(`{"jsonrpc":"2.0","id":${id},"result":`);
  return bodyOf([before, chunk.subarray(head, resultEnd), RESULT_END]);
}

/**
 * A body of `parts` in order: one array when small, else a stream of the parts themselves, not
 * copied (a megabyte copied is a megabyte of fresh pages to fault in).
 */
function bodyOf(parts: Uint8Array[]): Uint8Array<ArrayBuffer> | ReadableStream<Uint8Array> {
  const size = parts.reduce((n, p) => n + p.length, 0);
  if (size > COPY_LIMIT_BYTES) {
    const left = [...parts];
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        const part = left.shift();
        if (part) controller.enqueue(part);
        else controller.close();
      },
    });
  }
  return concatBytes(parts);
}

/** `res`'s headers for the broker's JSON body. */
function jsonHeaders(res: Response): Headers {
  const headers = new Headers(res.headers);
  for (const h of STREAM_ONLY_HEADERS) headers.delete(h);
  headers.set("content-type", "application/json");
  return headers;
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
    if (r.done) return new Response(concatBytes(read), { status: res.status, headers: res.headers });
    const known = read.length === 0 ? knownEvents.get(r.value) : undefined;
    const body = known ? bodyOf(known) : read.length === 0 ? resultBody(r.value) : undefined;
    if (body) {
      await reader.cancel().catch(() => {});
      return new Response(body, { status: 200, headers: jsonHeaders(res) });
    }
    read.push(r.value);
    // The first event decides; comments (keep-alives) are none.
    let first: SseEvent | undefined;
    events.push(r.value, (e) => first ??= e);
    if (!first) continue;
    const response = asResponse(first.data);
    if (response === undefined) {
      return new Response(relayBody(reader, { head: concatBytes(read) }), {
        status: res.status,
        headers: res.headers,
      });
    }
    await reader.cancel().catch(() => {});
    return new Response(`${response}\n`, { status: 200, headers: jsonHeaders(res) });
  }
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

/**
 * The first chunk of each event `writeKnownResults` wrote, to the parts of the broker's body for it,
 * so `singleAnswer` answers without reading or copying the known text.
 */
const knownEvents = new WeakMap<Uint8Array, Uint8Array[]>();
const RESULT_OBJECT_END = encoder.encode("}}\n");

/** Results whose JSON text is known: the member's key and its value's JSON bytes (see `preserialized`). */
const knownJson = new WeakMap<object, { key: string; json: Uint8Array }>();

/**
 * `{ [key]: value }` whose JSON text is `{"key":` + `json` + `}`, for a transport that
 * `writeKnownResults` was called on to write without `JSON.stringify`: a list of thousands of tools
 * served again and again is serialised once (see `JsonListCache`). `json` must be exactly
 * `JSON.stringify(value)`, UTF-8 encoded, and `value` must not change afterwards.
 */
export function preserialized<K extends string, V>(key: K, value: V, json: Uint8Array): Record<K, V> {
  const result = { [key]: value } as Record<K, V>;
  knownJson.set(result, { key, json });
  return result;
}

/** The parts of the broker's body answering request `id` with `{ [key]: value }`, `json` the value's text. */
function knownResultParts(id: string | number, key: string, json: Uint8Array): Uint8Array[] {
  return [
    encoder.encode(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{${JSON.stringify(key)}:`),
    json,
    RESULT_OBJECT_END,
  ];
}

/**
 * The answer to request `id` of session `sessionId` whose result is `{ [key]: value }`, `json` the
 * value's JSON text (as for `preserialized`), written without an SDK server or transport: the very
 * status, headers (in their order) and body `singleAnswer` makes of the SDK's event for it.
 */
export function knownResultResponse(
  id: string | number,
  key: string,
  json: Uint8Array,
  sessionId: string,
): Response {
  return new Response(bodyOf(knownResultParts(id, key, json)), {
    status: 200,
    headers: [["content-type", "application/json"], ["mcp-session-id", sessionId]],
  });
}

/** The SDK transport's writer of one SSE event (webStandardStreamableHttp.js `writeSSEEvent`). */
type WriteSseEvent = (
  controller: ReadableStreamDefaultController<Uint8Array>,
  encoder: TextEncoder,
  message: unknown,
  eventId?: string,
) => boolean;

/**
 * Makes `transport` write a response whose result `preserialized` made from the result's known
 * text, as the very bytes the SDK writes (`event: message`, the event id when it has one, then
 * `data:` and the message as `{result, jsonrpc, id}` in the SDK's order); every other message is
 * written by the SDK as before.
 */
export function writeKnownResults(transport: WebStandardStreamableHTTPServerTransport): void {
  const sdk = transport as unknown as { writeSSEEvent: WriteSseEvent };
  const write = sdk.writeSSEEvent.bind(transport);
  sdk.writeSSEEvent = (controller, encoder, message, eventId) => {
    const m = message as { result?: unknown; jsonrpc?: unknown; id?: unknown };
    const known = typeof m.result === "object" && m.result !== null ? knownJson.get(m.result) : undefined;
    const keys = known && Object.keys(m);
    if (
      !known || keys!.length !== 3 || keys![0] !== "result" || keys![1] !== "jsonrpc" || keys![2] !== "id" ||
      m.jsonrpc !== "2.0" || (typeof m.id !== "string" && typeof m.id !== "number") ||
      Object.keys(m.result as object).length !== 1
    ) {
      return write(controller, encoder, message, eventId);
    }
    try {
      const key = JSON.stringify(known.key);
      const id = JSON.stringify(m.id);
      const head = encoder.encode(
        `event: message\n${eventId ? `id: ${eventId}\n` : ""}data: {"result":{${key}:`,
      );
      // The known text is not copied: megabytes copied are megabytes of fresh pages to fault in.
      knownEvents.set(head, knownResultParts(m.id as string | number, known.key, known.json));
      controller.enqueue(head);
      controller.enqueue(known.json);
      controller.enqueue(encoder.encode(`},"jsonrpc":"2.0","id":${id}}\n\n`));
      return true;
    } catch (error) {
      // As the SDK: a stream the client closed is not written to; the transport hears why.
      transport.onerror?.(error as Error);
      return false;
    }
  };
}
