/**
 * HTTP-level checks of the Streamable HTTP transport that the gateway makes before any MCP processing:
 * Origin, Accept, Content-Type, body size, JSON parse, batch rejection and protocol version. Each
 * failure is a `Response` carrying a JSON-RPC error body, so nothing malformed reaches the SDK.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js";

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

/** The message as a valid JSON-RPC 2.0 message, or the -32600 error for it. */
function checkMessage(parsed: unknown): PostedMessage | Response {
  const m = parsed as Record<string, unknown>;
  const validId = m?.id === undefined || typeof m.id === "string" ||
    (typeof m.id === "number" && Number.isFinite(m.id));
  if (
    typeof parsed !== "object" || parsed === null || Array.isArray(parsed) || m.jsonrpc !== "2.0" ||
    !validId ||
    (m.method !== undefined && typeof m.method !== "string") ||
    (m.method === undefined && m.result === undefined && m.error === undefined) ||
    (m.params !== undefined && (typeof m.params !== "object" || m.params === null || Array.isArray(m.params)))
  ) {
    return rpcError(400, RpcCode.InvalidRequest, "Invalid Request: the body is not a JSON-RPC 2.0 message.", {
      id: validId ? m?.id : null,
    });
  }
  return parsed as PostedMessage;
}

/**
 * Checks and parses a POST to the MCP endpoint. The body is read with a hard cap so a huge body is
 * refused without buffering it whole.
 */
export async function readPost(req: Request, maxBodyBytes: number): Promise<PostRead> {
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
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (req.body) {
    const reader = req.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBodyBytes) {
        await reader.cancel().catch(() => {});
        return tooLarge();
      }
      chunks.push(value);
    }
  }
  const bytes = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.byteLength;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
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
      const checked = checkMessage(item);
      if (checked instanceof Response) return fail(checked);
      batch.push(checked);
    }
    return { ok: true, batch };
  }
  const checked = checkMessage(parsed);
  return checked instanceof Response ? fail(checked) : { ok: true, message: checked };
}
