/**
 * HTTP-level checks of the Streamable HTTP transport that the gateway makes before any MCP processing:
 * Origin, Accept, Content-Type, body size, body deadline, JSON parse, nesting depth, batch rejection
 * and protocol version. Each failure is a `Response` carrying a JSON-RPC error body, so nothing
 * malformed reaches the SDK.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js";
import { watchDeadline } from "./deadlines.ts";
import { concatBytes } from "./streams.ts";

/** JSON-RPC error codes the gateway answers with. */
export const RpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** Implementation-defined: transport-level refusals (SDK convention). */
  ServerError: -32000,
  /** SDK convention for an unknown session. */
  SessionNotFound: -32001,
  /** Spec: resource not found. */
  ResourceNotFound: -32002,
} as const;

/** A JSON-RPC error response with the given HTTP status. */
export function rpcError(
  status: number,
  code: number,
  message: string,
  opts: { id?: unknown; headers?: Record<string, string> } = {},
): Response {
  return new Response(JSON.stringify({ jsonrpc: "2.0", id: opts.id ?? null, error: { code, message } }), {
    status,
    headers: { "content-type": "application/json", ...opts.headers },
  });
}

/** True for an absent Origin, a localhost one, or one listed in `allowed` (DNS rebinding guard). */
export function originAllowed(origin: string | null, allowed: string[]): boolean {
  if (origin === null) return true;
  if (allowed.includes(origin) || allowed.includes("*")) return true;
  try {
    const host = new URL(origin).hostname;
    return host === "localhost" || host === "127.0.0.1" || host === "[::1]" || host.endsWith(".localhost");
  } catch {
    return false;
  }
}

/** A host name and port, canonical; see {@linkcode splitHost}. */
type HostParts = { name: string; port?: string };

/**
 * {@linkcode splitHost}'s answers by value: every request names a host (almost always the same
 * few), and parsing one takes a regex and a URL. Bounded, since clients choose what they send.
 */
const hostParts = new Map<string, HostParts | undefined>();
const HOST_PARTS_CACHED = 256;

/** {@linkcode splitHost}, remembered. */
function cachedSplitHost(value: string): HostParts | undefined {
  if (hostParts.has(value)) return hostParts.get(value);
  const parts = splitHost(value);
  if (hostParts.size >= HOST_PARTS_CACHED) hostParts.clear();
  hostParts.set(value, parts);
  return parts;
}

/** Host name and port of a `Host` header value (or a configured host), canonical; undefined when malformed. */
function splitHost(value: string): HostParts | undefined {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9_.-]+)(?::(\d{1,5}))?$/i.exec(value.trim());
  if (!m) return undefined;
  try {
    // The URL parser's canonical form: 127.1 is 127.0.0.1, [0:0::1] is [::1], names lower case.
    const url = new URL(`http://${m[1]}${m[2] ? `:${m[2]}` : ""}`);
    return { name: url.hostname.replace(/\.$/, ""), ...(m[2] ? { port: m[2] } : {}) };
  } catch {
    return undefined;
  }
}

function isLoopback(name: string): boolean {
  return name === "localhost" || name.endsWith(".localhost") || /^127\.\d+\.\d+\.\d+$/.test(name) ||
    name === "[::1]" || /^\[::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}\]$/.test(name);
}

/**
 * True when a request's `Host` header names this gateway, the DNS rebinding guard the MCP transport
 * spec asks of local servers: a loopback name (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`) on
 * any port, or one of `publicHosts` (`host` on any port, `host:port` on that port or, for 80 and
 * 443, without one; a URL stands for its host; `*` accepts every host). A request without a `Host`
 * header passes: browsers, which rebinding attacks need, always send one.
 */
export function hostAllowed(host: string | null, publicHosts: string[]): boolean {
  if (host === null) return true;
  const got = cachedSplitHost(host);
  if (!got) return false;
  if (isLoopback(got.name)) return true;
  for (const entry of publicHosts) {
    if (entry === "*") return true;
    let text = entry;
    if (entry.includes("://")) {
      try {
        text = new URL(entry).host;
      } catch {
        continue;
      }
    }
    const want = cachedSplitHost(text);
    if (!want || want.name !== got.name) continue;
    if (want.port === undefined || want.port === got.port) return true;
    if (got.port === undefined && (want.port === "80" || want.port === "443")) return true;
  }
  return false;
}

/** A JSON-RPC message as posted by a client, after the transport checks. */
export interface PostedMessage {
  jsonrpc: "2.0";
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: unknown;
  error?: unknown;
}

/**
 * The outcome of reading a POST: one message, a batch (only for clients on 2025-03-26, the last
 * version that had batches; the gateway checks that), or the error response to send.
 */
export type PostRead =
  | { ok: true; message: PostedMessage; batch?: undefined }
  | { ok: true; batch: PostedMessage[] }
  | { ok: false; response: Response };

/** JSON-RPC batches are limited like the SDK limits them. */
export const MAX_BATCH_SIZE = 100;

/**
 * How deeply a posted message may nest objects and arrays, the message itself being level 1 (so
 * `params` is level 2 and a tool's `arguments` level 3). The SDK's validators and `JSON.stringify`
 * recurse once per level and overflow the stack somewhere past 10,000; 100 is far from that and
 * far beyond any real MCP message.
 */
export const MAX_JSON_DEPTH = 100;

/**
 * How long a client has to send a request's whole body once its headers are in, in ms. A client
 * that sends part of a body and stalls (or trickles it) is answered 408 instead of holding a
 * handler and its buffers forever.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 30_000;

/** Decodes a request body; refuses bytes that are not UTF-8 (no state: one serves every request). */
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Options of {@link readPost}. */
export interface ReadPostOptions {
  /** Deepest nesting accepted; default {@link MAX_JSON_DEPTH}. */
  maxDepth?: number;
  /** Deadline for the whole body in ms; default {@link DEFAULT_BODY_TIMEOUT_MS}. */
  bodyTimeoutMs?: number;
}

/** True when `value` nests objects and arrays more than `max` levels (a scalar is level 0). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  // An explicit stack: the value may be nested far deeper than the call stack allows.
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A JSON-RPC id as MCP allows it: a string or an integer (the SDK's `RequestIdSchema`). */
export function isRequestId(v: unknown): v is string | number {
  return typeof v === "string" || (typeof v === "number" && Number.isSafeInteger(v));
}

/** Members each kind of message may have; the SDK's schemas are strict and refuse any other. */
const MEMBERS = {
  request: new Set(["jsonrpc", "id", "method", "params"]),
  notification: new Set(["jsonrpc", "method", "params"]),
  result: new Set(["jsonrpc", "id", "result"]),
  error: new Set(["jsonrpc", "id", "error"]),
};

/** Why `holder._meta` is not what the SDK accepts (`RequestMetaSchema`), or undefined when it is. */
function metaProblem(holder: Record<string, unknown>, where: string): string | undefined {
  const meta = holder._meta;
  if (meta === undefined) return undefined;
  if (!isRecord(meta)) return `${where}._meta must be an object`;
  if (meta.progressToken !== undefined && !isRequestId(meta.progressToken)) {
    return `${where}._meta.progressToken must be a string or an integer`;
  }
  const task = meta["io.modelcontextprotocol/related-task"];
  if (task !== undefined && !(isRecord(task) && typeof task.taskId === "string")) {
    return `${where}._meta["io.modelcontextprotocol/related-task"] must have a string taskId`;
  }
  return undefined;
}

/**
 * Why `m` is not a JSON-RPC message the MCP SDK accepts, or undefined when it is one. The SDK
 * would refuse the same messages, but with -32700 and no id; checked here, they get -32600 and the
 * id when it has one.
 */
function messageProblem(m: Record<string, unknown>): string | undefined {
  if (m.jsonrpc !== "2.0") return 'jsonrpc must be "2.0"';
  const kind = "method" in m
    ? ("id" in m ? "request" : "notification")
    : "result" in m
    ? "result"
    : "error" in m
    ? "error"
    : undefined;
  if (!kind) return "the message has no method, result or error";
  for (const member of Object.keys(m)) {
    if (!MEMBERS[kind].has(member)) return `a ${kind} has no member ${JSON.stringify(member.slice(0, 40))}`;
  }
  // An error answering a request whose id could not be read has none; everything else that has an
  // id needs a usable one.
  const idOptional = kind === "notification" || (kind === "error" && m.id === undefined);
  if (!idOptional && !isRequestId(m.id)) return "id must be a string or an integer";
  switch (kind) {
    case "request":
    case "notification":
      if (typeof m.method !== "string") return "method must be a string";
      if (m.params === undefined) return undefined;
      if (!isRecord(m.params)) return "params must be an object";
      return metaProblem(m.params, "params");
    case "result":
      if (!isRecord(m.result)) return "result must be an object";
      return metaProblem(m.result, "result");
    case "error": {
      const e = m.error;
      if (!isRecord(e) || !Number.isSafeInteger(e.code) || typeof e.message !== "string") {
        return "error must have an integer code and a string message";
      }
      return undefined;
    }
  }
}

/** The message as a valid JSON-RPC 2.0 message, or the -32600 (-32602) error for it. */
function checkMessage(parsed: unknown, maxDepth: number, bodyBytes: number): PostedMessage | Response {
  if (!isRecord(parsed)) {
    return rpcError(400, RpcCode.InvalidRequest, "Invalid Request: the body is not a JSON-RPC 2.0 message.");
  }
  const id = isRequestId(parsed.id) ? parsed.id : null;
  const problem = messageProblem(parsed);
  if (problem) {
    return rpcError(
      400,
      RpcCode.InvalidRequest,
      `Invalid Request: the body is not a JSON-RPC 2.0 message: ${problem}.`,
      { id },
    );
  }
  // Each level takes two bytes of the body at least, so most bodies need no walk.
  if (bodyBytes > 2 * maxDepth && nestsDeeperThan(parsed, maxDepth)) {
    const inParams = nestsDeeperThan(parsed.params, maxDepth - 1);
    return rpcError(
      400,
      inParams ? RpcCode.InvalidParams : RpcCode.InvalidRequest,
      `${
        inParams ? "Invalid params" : "Invalid Request"
      }: the message nests objects and arrays deeper than ${maxDepth} levels, the gateway's limit.`,
      { id },
    );
  }
  return parsed as unknown as PostedMessage;
}

/** What a body read ended with when it did not end with the body. */
const TIMED_OUT = Symbol("timed out");
const TOO_LARGE = Symbol("too large");

/**
 * Bodies up to this size that declare their length are read whole by the runtime rather than
 * through a JS stream. A request body's stream keeps what it touched alive past V8's young
 * generation (measured: 20,000 POSTs to a Deno.serve server cost it 1.0-1.3 s of CPU read through a
 * reader, 0.7 s read whole, and ten times the GC pauses), which every `tools/call` paid. A read
 * whole cannot be cancelled: a client that stalls keeps up to this many bytes buffered until it
 * goes, besides the socket Deno.serve keeps for it anyway (see the body-timeout test).
 */
export const EAGER_BODY_BYTES = 64 * 1024;

/** The whole body of a request that declared its length (at most {@link EAGER_BODY_BYTES}). */
async function readDeclaredBody(req: Request, bodyTimeoutMs: number): Promise<Uint8Array | typeof TIMED_OUT> {
  const body = req.bytes();
  const late = Promise.withResolvers<typeof TIMED_OUT>();
  const deadline = watchDeadline(bodyTimeoutMs, () => late.resolve(TIMED_OUT));
  // A body given up on may still fail later (the client goes): nobody waits for it then.
  body.catch(() => {});
  try {
    return await Promise.race([body, late.promise]);
  } finally {
    deadline.clear();
  }
}

/**
 * A body of unknown or large length, read chunk by chunk so one over `maxBodyBytes` is refused
 * without buffering it whole, within one deadline for the whole body (not per read: a byte now and
 * then must not keep it open). Cancelling the reader ends the pending read.
 */
async function readStreamedBody(
  req: Request,
  maxBodyBytes: number,
  bodyTimeoutMs: number,
): Promise<Uint8Array | typeof TIMED_OUT | typeof TOO_LARGE> {
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  let timedOut = false;
  const deadline = watchDeadline(bodyTimeoutMs, () => {
    timedOut = true;
    reader.cancel().catch(() => {});
  });
  try {
    while (true) {
      const read = await reader.read();
      if (timedOut) return TIMED_OUT;
      if (read.done) break;
      size += read.value.byteLength;
      if (size > maxBodyBytes) {
        await reader.cancel().catch(() => {});
        return TOO_LARGE;
      }
      chunks.push(read.value);
    }
  } finally {
    deadline.clear();
  }
  // Nearly every body comes in one chunk: parse it where it is.
  return chunks.length === 1 ? chunks[0] : concatBytes(chunks);
}

/**
 * Checks and parses a POST to the MCP endpoint. The body is read with a hard cap so a huge body is
 * refused without buffering it whole, and within a deadline (`bodyTimeoutMs`).
 */
export async function readPost(
  req: Request,
  maxBodyBytes: number,
  opts: ReadPostOptions = {},
): Promise<PostRead> {
  const maxDepth = opts.maxDepth ?? MAX_JSON_DEPTH;
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const fail = (response: Response): PostRead => ({ ok: false, response });
  const accept = req.headers.get("accept") ?? "";
  if (!accept.includes("application/json") || !accept.includes("text/event-stream")) {
    return fail(
      rpcError(
        406,
        RpcCode.ServerError,
        "Not Acceptable: the client must accept both application/json and text/event-stream.",
      ),
    );
  }
  const ct = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
  if (ct !== "application/json") {
    return fail(
      rpcError(415, RpcCode.ServerError, "Unsupported Media Type: Content-Type must be application/json."),
    );
  }
  const version = req.headers.get("mcp-protocol-version");
  if (version !== null && !SUPPORTED_PROTOCOL_VERSIONS.includes(version)) {
    return fail(
      rpcError(
        400,
        RpcCode.ServerError,
        `Bad Request: unsupported MCP-Protocol-Version ${JSON.stringify(version)}.`,
      ),
    );
  }
  const tooLarge = () =>
    fail(rpcError(413, RpcCode.ServerError, `Request body exceeds ${maxBodyBytes} bytes.`));
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBodyBytes) {
    await req.body?.cancel().catch(() => {});
    return tooLarge();
  }
  const bytes = Number.isFinite(declared) && declared <= EAGER_BODY_BYTES
    ? await readDeclaredBody(req, bodyTimeoutMs)
    : await readStreamedBody(req, maxBodyBytes, bodyTimeoutMs);
  if (bytes === TIMED_OUT) {
    return fail(
      rpcError(
        408,
        RpcCode.ServerError,
        `Request Timeout: the request body did not arrive within ${bodyTimeoutMs} ms.`,
        { headers: { connection: "close" } },
      ),
    );
  }
  // A Request made in this process may carry more than its content-length says.
  if (bytes === TOO_LARGE || bytes.byteLength > maxBodyBytes) return tooLarge();
  const size = bytes.byteLength;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch {
    return fail(rpcError(400, RpcCode.ParseError, "Parse error: the body is not valid JSON."));
  }
  if (Array.isArray(parsed)) {
    if (parsed.length === 0 || parsed.length > MAX_BATCH_SIZE) {
      return fail(
        rpcError(
          400,
          RpcCode.InvalidRequest,
          `Invalid Request: a JSON-RPC batch must hold 1 to ${MAX_BATCH_SIZE} messages.`,
        ),
      );
    }
    const batch: PostedMessage[] = [];
    for (const item of parsed) {
      const checked = checkMessage(item, maxDepth, size);
      if (checked instanceof Response) return fail(checked);
      batch.push(checked);
    }
    return { ok: true, batch };
  }
  const checked = checkMessage(parsed, maxDepth, size);
  return checked instanceof Response ? fail(checked) : { ok: true, message: checked };
}
