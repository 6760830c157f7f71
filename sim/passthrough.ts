/**
 * The `tools/call` fast path, as upstream's router does it: the client's request goes to the owning
 * backend with only its id, tool name, session and credential rewritten, and the backend's answer
 * (JSON or an SSE stream) comes back line by line with ids mapped back. No SDK server or client sits
 * on this path; the gateway only opens (or resumes) the backend session through its SDK client.
 *
 * Ids: the forwarded call gets a gateway-unique string id, which cannot collide with the numeric ids
 * the gateway's own SDK client uses on the same backend session. A backend's request to the client
 * inside the stream (elicitation, sampling, roots, ping) gets a fresh gateway id too, remembered
 * until the stream ends, so the client's answer (its own POST) is forwarded to the right backend
 * session with the backend's id.
 *
 * @module
 */

import { rewriteResultUris } from "./federation.ts";

/** JSON-RPC request id. */
export type RpcId = string | number;

/** Where and how to reach one backend session. */
export interface BackendTarget {
  /** The registration's MCP endpoint. */
  endpoint: URL;
  /** The registration's credential, sent as `Authorization` (never the client's). */
  credential?: string;
  /** The client's own headers, for a `userSpecificList` server (instead of `credential`). */
  headers?: Record<string, string>;
  /** The backend's `Mcp-Session-Id`, when it has sessions. */
  sessionId?: string;
  /** Protocol version negotiated with the backend. */
  protocolVersion?: string;
}

/** What the router needs from the gateway for one call. */
export interface CallHooks {
  /** The backend session for the call; `fresh` after a 404 (drop the old one and open a new one). */
  backend(fresh: boolean): Promise<BackendTarget>;
  /** An error opening the backend session, as the JSON-RPC error the client gets. */
  backendError(err: unknown): { code: number; message: string };
  /** The backend's answer took `seconds`. */
  latency?(seconds: number): void;
  /** The backend said its lists changed. */
  listChanged?(): void;
  /** Diagnostics. */
  log?(level: "info" | "warn", msg: string): void;
}

/** One forwarded call. */
export interface CallRequest {
  /** The client's session id, echoed on the response. */
  sessionId: string;
  /** Server name, used in error messages. */
  server: string;
  /** The client's message, `params.name` already the backend's tool name. */
  message: { jsonrpc: "2.0"; id: RpcId; method: string; params?: Record<string, unknown> };
  /** Timeout of the backend's answer; reset by each progress notification. */
  timeoutMs: number;
  /** The server's resource URI key when it has a prefix: resource URIs in the result are rewritten. */
  resourceKey?: string;
}

/** JSON-RPC error codes of the pass-through (the SDK path's). */
export const PassthroughCode = {
  ConnectionClosed: -32000,
  RequestTimeout: -32001,
  InternalError: -32603,
} as const;

interface InflightCall {
  clientId: RpcId;
  backendId: string;
  server: string;
  target?: BackendTarget;
  ac: AbortController;
  /** The client cancelled: end quietly. */
  cancelled: boolean;
  /** Our own timer fired. */
  timedOut: boolean;
  /** Gateway ids of the backend's requests seen in this call's stream. */
  requests: string[];
  /** Ends the client's stream, if one is open. */
  end?: () => void;
  /** Ends the client's stream with a timeout error, if one is open. */
  onTimeout?: () => void;
}

interface MappedRequest {
  server: string;
  target: BackendTarget;
  backendId: RpcId;
}

interface SessionState {
  calls: Map<string, InflightCall>;
  requests: Map<string, MappedRequest>;
}

const encoder = new TextEncoder();

/** Headers of a POST to a backend session. */
export function backendHeaders(target: BackendTarget): Record<string, string> {
  const h: Record<string, string> = {
    ...target.headers,
    accept: "application/json, text/event-stream",
    "content-type": "application/json",
  };
  if (target.sessionId) h["mcp-session-id"] = target.sessionId;
  if (target.protocolVersion) h["mcp-protocol-version"] = target.protocolVersion;
  if (target.credential) h.authorization = target.credential;
  return h;
}

/**
 * Splits an SSE byte stream into lines (partial lines are kept for the next chunk) and lets `data`
 * rewrite the payload of each `data:` line; every other line passes as it came.
 */
export class SseLineRewriter {
  #buf = "";
  #decoder = new TextDecoder();
  constructor(readonly data: (payload: string) => string | undefined) {}

  /** The rewritten complete lines of `chunk` (with what was held back). */
  push(chunk: Uint8Array): string {
    this.#buf += this.#decoder.decode(chunk, { stream: true });
    const last = this.#buf.lastIndexOf("\n");
    if (last < 0) return "";
    const complete = this.#buf.slice(0, last + 1);
    this.#buf = this.#buf.slice(last + 1);
    return this.#rewrite(complete);
  }

  /** What is left at the end of the stream. */
  flush(): string {
    const rest = this.#buf + this.#decoder.decode();
    this.#buf = "";
    return rest ? this.#rewrite(rest) : "";
  }

  #rewrite(text: string): string {
    // Fast path: most chunks are one event, one data line.
    let out = "";
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      else end++;
      const line = text.slice(start, end);
      start = end;
      if (line.startsWith("data:")) {
        const eol = line.endsWith("\r\n") ? "\r\n" : line.endsWith("\n") ? "\n" : "";
        let payload = line.slice(5, line.length - eol.length);
        if (payload.startsWith(" ")) payload = payload.slice(1);
        const replaced = this.data(payload);
        out += replaced === undefined ? line : `data: ${replaced}${eol}`;
      } else {
        out += line;
      }
    }
    return out;
  }
}

/** A JSON-RPC error response for `id`. */
function errorBody(id: RpcId, code: number, message: string): string {
  return JSON.stringify({ jsonrpc: "2.0", id, error: { code, message } });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

const errorMessage = (err: unknown) => err instanceof Error ? err.message : String(err);

/** Resolves after the I/O already waiting has been handled: a read that is not ready by then is not imminent. */
const nextTurn = () => new Promise<false>((resolve) => setTimeout(resolve, 0, false));

/** Routes `tools/call` straight to backends and maps the ids of everything that comes back. */
export class PassthroughRouter {
  #sessions = new Map<string, SessionState>();
  #seq = 0;
  /** Distinguishes this process's ids from another replica's in logs and maps. */
  #tag = crypto.randomUUID().slice(0, 8);

  /** This router's replica tag, part of every id it hands out (`kmcp-<kind>-<tag>-<n>`). */
  get replica(): string {
    return this.#tag;
  }

  /**
   * True when `id` is a backend-request id another replica's router handed out: the client's
   * answer to it belongs to that replica.
   */
  isForeignRequestId(id: unknown): boolean {
    return typeof id === "string" && /^kmcp-req-[0-9a-f]{8}-\d+$/.test(id) &&
      !id.startsWith(`kmcp-req-${this.#tag}-`);
  }

  #state(sessionId: string): SessionState {
    let s = this.#sessions.get(sessionId);
    if (!s) {
      s = { calls: new Map(), requests: new Map() };
      this.#sessions.set(sessionId, s);
    }
    return s;
  }

  #newId(kind: string): string {
    return `kmcp-${kind}-${this.#tag}-${++this.#seq}`;
  }

  /** Calls in flight (all sessions), for tests and diagnostics. */
  get inflight(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.calls.size;
    return n;
  }

  /** Backend requests awaiting the client's answer (all sessions). */
  get pendingRequests(): number {
    let n = 0;
    for (const s of this.#sessions.values()) n += s.requests.size;
    return n;
  }

  /** Forwards one `tools/call` and answers with the backend's response, ids restored. */
  async call(req: CallRequest, hooks: CallHooks): Promise<Response> {
    const state = this.#state(req.sessionId);
    const clientKey = JSON.stringify(req.message.id);
    const call: InflightCall = {
      clientId: req.message.id,
      backendId: this.#newId("call"),
      server: req.server,
      ac: new AbortController(),
      cancelled: false,
      timedOut: false,
      requests: [],
    };
    // A client reusing an id still in flight gets the newer call cancelled against, as the SDK does.
    state.calls.set(clientKey, call);
    const sessionHeaders = { "mcp-session-id": req.sessionId };
    const json = (body: string) =>
      new Response(body, { headers: { "content-type": "application/json", ...sessionHeaders } });
    const fail = (code: number, message: string) => json(errorBody(call.clientId, code, message));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        call.timedOut = true;
        call.ac.abort();
        call.onTimeout?.();
      }, req.timeoutMs);
    };
    const disarm = () => clearTimeout(timer);
    let streaming = false;
    const cleanup = () => {
      disarm();
      if (state.calls.get(clientKey) === call) state.calls.delete(clientKey);
      for (const id of call.requests) state.requests.delete(id);
      call.requests = [];
      if (!state.calls.size && !state.requests.size) this.#sessions.delete(req.sessionId);
    };
    const abortedError = () =>
      call.timedOut
        ? fail(
          PassthroughCode.RequestTimeout,
          `Server ${req.server} did not answer ${req.message.method} in time.`,
        )
        // Cancelled: no response, as for any cancelled request; the stream the client opened just ends.
        : new Response(null, { headers: { "content-type": "text/event-stream", ...sessionHeaders } });
    const failed = (detail: string) =>
      fail(
        PassthroughCode.InternalError,
        `Server ${req.server} failed the ${req.message.method} request: ${detail}`,
      );
    const t0 = performance.now();
    try {
      for (let attempt = 0;; attempt++) {
        let target: BackendTarget;
        try {
          target = await hooks.backend(attempt > 0);
        } catch (err) {
          const e = hooks.backendError(err);
          return fail(e.code, e.message);
        }
        if (call.cancelled) return abortedError();
        call.target = target;
        const body = JSON.stringify({ ...req.message, id: call.backendId });
        arm();
        let res: Response;
        try {
          res = await fetch(target.endpoint, {
            method: "POST",
            headers: backendHeaders(target),
            body,
            signal: call.ac.signal,
          });
        } catch (err) {
          if (call.ac.signal.aborted) return abortedError();
          return failed(errorMessage(err));
        }
        if (res.status === 404 && attempt === 0) {
          // The backend forgot our session: start a new one and retry once.
          await res.body?.cancel().catch(() => {});
          hooks.log?.("info", `Backend session on ${req.server} expired; re-initialising.`);
          continue;
        }
        if (!res.ok) {
          const text = await res.text().catch(() => "");
          return failed(`HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ""}`);
        }
        const ct = (res.headers.get("content-type") ?? "").toLowerCase();
        if (ct.includes("text/event-stream") && res.body) {
          streaming = true;
          return await this.#stream(
            req,
            hooks,
            state,
            call,
            res.body,
            arm,
            disarm,
            cleanup,
            t0,
            sessionHeaders,
          );
        }
        let text: string;
        try {
          text = await res.text();
        } catch (err) {
          if (call.ac.signal.aborted) return abortedError();
          return failed(errorMessage(err));
        }
        const msg = ct.includes("application/json") ? parseObject(text) : undefined;
        if (!msg || msg.method !== undefined || msg.id !== call.backendId) {
          return failed(`the backend answered with something that is not a JSON-RPC response to the call.`);
        }
        hooks.latency?.((performance.now() - t0) / 1000);
        msg.id = call.clientId;
        if (req.resourceKey) rewriteResultUris(msg.result, req.resourceKey);
        return json(JSON.stringify(msg));
      }
    } finally {
      if (!streaming) cleanup();
    }
  }

  /**
   * Relays the backend's SSE answer. Most calls are one event (the answer) and the end of the
   * stream: those are read ahead and answered with one body, which spares the gateway a JS stream
   * per call (about a quarter of its CPU for a no-op tool in `deno task bench`). As soon as
   * anything comes before the answer (progress, logging, a request to the client), or the backend
   * keeps its stream open after answering, the client gets a stream that starts with what was read.
   */
  async #stream(
    req: CallRequest,
    hooks: CallHooks,
    state: SessionState,
    call: InflightCall,
    body: ReadableStream<Uint8Array>,
    arm: () => void,
    disarm: () => void,
    cleanup: () => void,
    t0: number,
    sessionHeaders: Record<string, string>,
  ): Promise<Response> {
    const target = call.target!;
    let answered = false;
    const rewriter = new SseLineRewriter((payload) => {
      const msg = parseObject(payload);
      if (!msg) return undefined;
      const method = msg.method;
      if (typeof method === "string") {
        if (msg.id !== undefined && msg.id !== null) {
          // The backend asks the client something: give it an id the gateway can map back.
          const gid = this.#newId("req");
          state.requests.set(gid, { server: req.server, target, backendId: msg.id as RpcId });
          call.requests.push(gid);
          msg.id = gid;
          return JSON.stringify(msg);
        }
        if (method === "notifications/progress") arm();
        else if (method.endsWith("/list_changed")) hooks.listChanged?.();
        return undefined;
      }
      if (msg.id === call.backendId) {
        answered = true;
        disarm();
        hooks.latency?.((performance.now() - t0) / 1000);
        msg.id = call.clientId;
        if (req.resourceKey) rewriteResultUris(msg.result, req.resourceKey);
        return JSON.stringify(msg);
      }
      return undefined;
    });
    const headers = { "content-type": "text/event-stream", "cache-control": "no-cache", ...sessionHeaders };
    const reader = body.getReader();
    const event = (code: number, message: string) =>
      `\nevent: message\ndata: ${errorBody(call.clientId, code, message)}\n\n`;
    const timeoutEvent = () =>
      event(
        PassthroughCode.RequestTimeout,
        `Server ${req.server} did not answer ${req.message.method} in time.`,
      );
    /** What ends the client's stream once the backend's ended (`err`: it broke off). */
    const ending = (err?: unknown): string => {
      if (err === undefined) {
        const tail = rewriter.flush();
        return answered || call.cancelled ? tail : tail + (call.timedOut ? timeoutEvent() : event(
          PassthroughCode.ConnectionClosed,
          `Server ${req.server} closed the connection during ${req.message.method}.`,
        ));
      }
      if (call.cancelled || answered) return "";
      if (call.timedOut) return timeoutEvent();
      return event(
        PassthroughCode.ConnectionClosed,
        `Server ${req.server} closed the connection during ${req.message.method}: ${errorMessage(err)}`,
      );
    };

    // Read ahead. A timeout or a cancel meanwhile cancels the reader, which ends the pending read.
    const interrupt = () => void reader.cancel().catch(() => {});
    call.end = interrupt;
    call.onTimeout = interrupt;
    let head = "";
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    for (;;) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await (pending ?? reader.read());
      } catch (err) {
        cleanup();
        return new Response(head + ending(err), { headers });
      }
      pending = undefined;
      if (r.done) {
        cleanup();
        return new Response(head + ending(), { headers });
      }
      head += rewriter.push(r.value);
      if (!answered) {
        if (head) break;
        continue;
      }
      // Answered: one body if the stream ends now, else a stream (the backend may still say more).
      pending = reader.read();
      const ended = await Promise.race([pending.then((n) => n.done, () => true), nextTurn()]);
      if (ended !== true) break;
    }

    let finished = false;
    let ctrl!: ReadableStreamDefaultController<Uint8Array>;
    const finish = (tail: string) => {
      if (finished) return;
      finished = true;
      cleanup();
      try {
        if (tail) ctrl.enqueue(encoder.encode(tail));
        ctrl.close();
      } catch {
        // the client already went away
      }
      reader.cancel().catch(() => {});
    };
    call.end = () => finish("");
    // Our timer ends the stream itself: aborting the fetch alone need not end a body being read.
    call.onTimeout = () => finish(answered ? "" : timeoutEvent());
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        ctrl = controller;
        if (head) controller.enqueue(encoder.encode(head));
      },
      pull: async (controller) => {
        while (!finished) {
          let r: ReadableStreamReadResult<Uint8Array>;
          try {
            r = await (pending ?? reader.read());
          } catch (err) {
            if (finished) return;
            return finish(ending(err));
          } finally {
            pending = undefined;
          }
          if (finished) return;
          if (r.done) return finish(ending());
          const out = rewriter.push(r.value);
          if (out) {
            controller.enqueue(encoder.encode(out));
            return;
          }
        }
      },
      cancel: () => {
        // The client went away. Per the spec that is not a cancellation: only our leg to the backend ends.
        if (finished) return;
        finished = true;
        cleanup();
        reader.cancel().catch(() => {});
      },
    });
    return new Response(stream, { headers });
  }

  /**
   * The client's answer to a backend request seen in a pass-through stream: forwarded to that
   * backend session under the backend's id. Undefined when `message.id` is not one of ours.
   */
  clientResponse(sessionId: string, message: Record<string, unknown>): Promise<Response> | undefined {
    if (typeof message.id !== "string") return undefined;
    const state = this.#sessions.get(sessionId);
    const mapped = state?.requests.get(message.id);
    if (!state || !mapped) return undefined;
    state.requests.delete(message.id);
    return (async () => {
      try {
        const res = await fetch(mapped.target.endpoint, {
          method: "POST",
          headers: backendHeaders(mapped.target),
          body: JSON.stringify({ ...message, id: mapped.backendId }),
          signal: AbortSignal.timeout(10_000),
        });
        await res.body?.cancel().catch(() => {});
      } catch {
        // The backend's stream carries the outcome (or its timeout) to the client.
      }
      return new Response(null, { status: 202, headers: { "mcp-session-id": sessionId } });
    })();
  }

  /**
   * A client's `notifications/cancelled` for a pass-through call: the backend gets it under its
   * id and the call's stream ends. Undefined when the request is not one of ours.
   */
  cancel(sessionId: string, message: Record<string, unknown>): Promise<Response> | undefined {
    const params = message.params as Record<string, unknown> | undefined;
    const requestId = params?.requestId;
    if (typeof requestId !== "string" && typeof requestId !== "number") return undefined;
    const state = this.#sessions.get(sessionId);
    const call = state?.calls.get(JSON.stringify(requestId));
    if (!state || !call) return undefined;
    call.cancelled = true;
    const target = call.target;
    return (async () => {
      if (target) await this.#notifyCancelled(target, call.backendId, params?.reason);
      call.ac.abort();
      call.end?.();
      return new Response(null, { status: 202, headers: { "mcp-session-id": sessionId } });
    })();
  }

  async #notifyCancelled(target: BackendTarget, backendId: RpcId, reason: unknown): Promise<void> {
    try {
      const res = await fetch(target.endpoint, {
        method: "POST",
        headers: backendHeaders(target),
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: backendId, ...(typeof reason === "string" ? { reason } : {}) },
        }),
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel().catch(() => {});
    } catch {
      // Best effort, as the SDK's own cancellation.
    }
  }

  /** Ends every pass-through call of a session (DELETE, or the session closed). */
  closeSession(sessionId: string): void {
    const state = this.#sessions.get(sessionId);
    if (!state) return;
    this.#sessions.delete(sessionId);
    for (const call of state.calls.values()) {
      call.cancelled = true;
      call.ac.abort();
      call.end?.();
    }
    state.calls.clear();
    state.requests.clear();
  }
}
