/**
 * Helpers for the simulator gateway tests: SDK clients, raw MCP posts, a proxy that can be switched
 * off to fake an upstream outage, and polling.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { ClientCapabilities } from "@modelcontextprotocol/sdk/types.js";

/** Options of `connectClient`. */
export interface ClientOptions {
  headers?: Record<string, string>;
  capabilities?: ClientCapabilities;
  name?: string;
}

/** An SDK client connected to `url`, closed by `await using`. */
export async function connectClient(
  url: string,
  opts: ClientOptions = {},
): Promise<
  { client: Client; transport: StreamableHTTPClientTransport; [Symbol.asyncDispose](): Promise<void> }
> {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: opts.headers ?? {} },
    reconnectionOptions: {
      maxRetries: 0,
      initialReconnectionDelay: 100,
      maxReconnectionDelay: 100,
      reconnectionDelayGrowFactor: 1,
    },
  });
  const client = new Client({ name: opts.name ?? "sim-test", version: "1.0.0" }, {
    capabilities: opts.capabilities ?? {},
  });
  await client.connect(transport);
  return {
    client,
    transport,
    [Symbol.asyncDispose]: async () => {
      await transport.terminateSession().catch(() => {});
      await client.close();
    },
  };
}

/** Headers of a well-formed MCP POST. */
export const MCP_HEADERS: Record<string, string> = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Posts a raw body to the MCP endpoint and returns status, headers and the JSON-RPC message (SSE or JSON). */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> | undefined }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  const ct = res.headers.get("content-type") ?? "";
  if (ct.includes("text/event-stream")) {
    const data = text.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).filter(
      Boolean,
    );
    const last = data.map((d) => JSON.parse(d)).filter((m) => "result" in m || "error" in m).pop();
    json = last;
  } else if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
  }
  return { status: res.status, headers: res.headers, json };
}

/** An initialize request body for protocol `version`. */
export function initializeBody(
  version = "2025-11-25",
  id: number | string = 1,
  capabilities: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    jsonrpc: "2.0",
    id,
    method: "initialize",
    params: { protocolVersion: version, capabilities, clientInfo: { name: "raw", version: "1" } },
  };
}

/**
 * Initializes a raw session; returns its id, the negotiated version and the headers every later
 * request of the session carries.
 */
export async function rawSession(
  url: string,
  version = "2025-11-25",
  capabilities: Record<string, unknown> = {},
): Promise<{ id: string; version: string; headers: Record<string, string> }> {
  const r = await post(url, initializeBody(version, 0, capabilities));
  const id = r.headers.get("mcp-session-id");
  if (r.status !== 200 || !id) throw new Error(`initialize failed: ${r.status} ${JSON.stringify(r.json)}`);
  const negotiated = (r.json?.result as { protocolVersion: string }).protocolVersion;
  const headers = { ...MCP_HEADERS, "mcp-session-id": id, "mcp-protocol-version": negotiated };
  const n = await post(url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers);
  if (n.status !== 202) throw new Error(`initialized notification got ${n.status}`);
  return { id, version: negotiated, headers };
}

/** Ends a raw session. */
export async function deleteSession(url: string, id: string): Promise<number> {
  const r = await fetch(url, { method: "DELETE", headers: { "mcp-session-id": id } });
  await r.body?.cancel();
  return r.status;
}

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(fn: () => T | Promise<T>, timeoutMs = 5000, what = "condition"): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (true) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * A reverse proxy in front of `target` that answers 503 while `down` is true, and holds a POST
 * carrying JSON-RPC method `m` for `delays[m]` milliseconds before passing it on (a slow server).
 */
export function switchableProxy(target: string): {
  url: string;
  down: boolean;
  delays: Record<string, number>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
} {
  const t = new URL(target);
  const inflight = new Set<AbortController>();
  const state = { down: false };
  const delays: Record<string, number> = {};
  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen: () => {} }, async (req) => {
    if (state.down) {
      await req.body?.cancel();
      return new Response("down", { status: 503 });
    }
    const u = new URL(req.url);
    const ac = new AbortController();
    inflight.add(ac);
    req.signal.addEventListener("abort", () => ac.abort());
    try {
      const headers = new Headers(req.headers);
      headers.delete("host");
      const body = req.method === "POST" ? await req.arrayBuffer() : undefined;
      const delay = body ? delays[rpcMethod(body)] ?? 0 : 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const res = await fetch(new URL(u.pathname + u.search, t), {
        method: req.method,
        headers,
        body,
        signal: ac.signal,
      });
      return new Response(closable(res.body), { status: res.status, headers: res.headers });
    } catch {
      return new Response("bad gateway", { status: 502 });
    } finally {
      inflight.delete(ac);
    }
  });
  // Bodies still streaming (a backend's SSE stream outlives its handler). Aborting the fetch that
  // feeds one does not always end it, and `server.shutdown()` waits for every response to finish.
  const streams = new Set<() => void>();
  const closable = (body: ReadableStream<Uint8Array> | null) => {
    if (!body) return null;
    const reader = body.getReader();
    let end = () => {};
    return new ReadableStream<Uint8Array>({
      start(c) {
        end = () => {
          streams.delete(end);
          try {
            c.close();
          } catch {
            // already closed
          }
          reader.cancel().catch(() => {});
        };
        streams.add(end);
      },
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          if (done) end();
          else c.enqueue(value);
        } catch {
          end();
        }
      },
      cancel() {
        end();
      },
    });
  };
  const close = async () => {
    for (const ac of inflight) ac.abort();
    for (const end of [...streams]) end();
    await server.shutdown();
  };
  return {
    url: `http://127.0.0.1:${server.addr.port}${t.pathname}`,
    get down() {
      return state.down;
    },
    set down(v: boolean) {
      state.down = v;
    },
    delays,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The JSON-RPC method of a POST body; empty when it has none (a batch, a response, not JSON). */
function rpcMethod(body: ArrayBuffer): string {
  try {
    const method = JSON.parse(new TextDecoder().decode(body))?.method;
    return typeof method === "string" ? method : "";
  } catch {
    return "";
  }
}

/** Text of the first content block of a tool result. */
export function firstText(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content[0]?.text ?? "";
}

/** Reads SSE messages from a response body as they come. */
export function sseMessages(res: Response): AsyncGenerator<Record<string, unknown>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  return (async function* () {
    let buf = "";
    while (true) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += value;
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const event = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim())
          .join(
            "",
          );
        if (data) yield JSON.parse(data);
      }
    }
  })();
}
