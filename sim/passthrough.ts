/**
 * The `tools/call` fast path, as upstream's router does it: the client's request goes to the owning
 * backend with only its id, tool name, session and credential rewritten, and the backend's answer
 * (JSON or an SSE stream) comes back event by event with ids mapped back. No SDK server or client sits
 * on this path; the gateway only opens (or resumes) the backend session through its SDK client.
 *
 * Ids: the forwarded call gets a gateway-unique string id, which cannot collide with the numeric ids
 * the gateway's own SDK client uses on the same backend session. A backend's request to the client
 * inside the stream (elicitation, sampling, roots, ping) gets a fresh gateway id too, remembered
 * until the stream ends, so the client's answer (its own POST) is forwarded to the right backend
 * session with the backend's id.
 *
 * Backends are not trusted. A message in the answer that is a response to any id but the call's
 * own (its gateway id) is dropped, so a backend cannot answer another of the client's requests;
 * so is anything that is not a JSON-RPC message. The SSE answer is read event by event (`sse.ts`)
 * within a cap on a line and an event, and re-written event by event: what the client reads is
 * exactly what the gateway checked. A JSON answer is read within the same cap. A redirect is
 * followed only within the backend's origin (`backend_fetch.ts`).
 *
 * @module
 */

import {
  type BackendAnswer,
  backendHeaders,
  type BackendTarget,
  type ChunkReader,
  fetchBackend,
  postBackend,
  readBody,
} from "./backend_fetch.ts";
import { type Deadline, nextTurn, watchDeadline } from "./deadlines.ts";
import { UpstreamError } from "./errors.ts";
import { rewriteResultUris } from "./federation.ts";
import { Http1Pool } from "./http1.ts";
import { DEFAULT_SSE_LIMIT_BYTES, formatSseEvent, type SseEvent, SseLimitError, SseReader } from "./sse.ts";
import { redactedMessage } from "./redact.ts";

export type { BackendTarget } from "./backend_fetch.ts";

/** JSON-RPC request id. */
export type RpcId = string | number;

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
  /**
   * The backend answered 401. True passes its answer (status, body within the cap, `Content-Type`
   * and `WWW-Authenticate`) to the client as the cluster's Envoy does: a `tokenURLElicitation` call
   * whose user token was refused. Otherwise the 401 is the call's error, as any other status.
   */
  unauthorized?(): boolean;
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
  /**
   * Cap on the backend's answer: a JSON body, one SSE line, one SSE event (the extension's
   * `maxBodyBytes`); default {@linkcode DEFAULT_SSE_LIMIT_BYTES}.
   */
  maxBytes?: number;
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

/** What `#stream` shares with the call it relays. */
interface StreamContext {
  /** (Re)starts and stops the call's timeout. */
  arm(): void;
  disarm(): void;
  /** Forgets the call. */
  cleanup(): void;
  /** When the call was sent. */
  t0: number;
  sessionHeaders: Record<string, string>;
  maxBytes: number;
}

interface SessionState {
  calls: Map<string, InflightCall>;
  requests: Map<string, MappedRequest>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

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

/** The log line of a dropped response: never its contents, which may carry another request's secrets. */
const foreignResponse = (req: CallRequest) =>
  `Server ${req.server} sent a response to a request other than this ${req.message.method}; it was dropped.`;

/** Routes `tools/call` straight to backends and maps the ids of everything that comes back. */
export class PassthroughRouter {
  #sessions = new Map<string, SessionState>();
  #seq = 0;
  /** Calls of every session between their start and their cleanup. */
  #active = 0;
  /** Distinguishes this process's ids from another replica's in logs and maps. */
  #tag = crypto.randomUUID().slice(0, 8);
  /** Kept-alive connections for the calls' POSTs (see `http1.ts`). */
  #pool = new Http1Pool();

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
    this.#active++;
    let counted = true;
    const sessionHeaders = { "mcp-session-id": req.sessionId };
    const json = (body: string) =>
      new Response(body, { headers: { "content-type": "application/json", ...sessionHeaders } });
    const fail = (code: number, message: string) => json(errorBody(call.clientId, code, message));
    let deadline: Deadline | undefined;
    const arm = () => {
      if (deadline) return deadline.restart();
      deadline = watchDeadline(req.timeoutMs, () => {
        call.timedOut = true;
        call.ac.abort();
        call.onTimeout?.();
      });
    };
    const disarm = () => deadline?.clear();
    let streaming = false;
    const cleanup = () => {
      disarm();
      if (counted) {
        counted = false;
        this.#active--;
      }
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
    /** A backend the gateway refuses to follow (a redirect away, a body over the cap). */
    const refused = (err: UpstreamError) => {
      hooks.log?.("warn", err.message);
      return fail(PassthroughCode.InternalError, err.message);
    };
    const t0 = performance.now();
    const maxBytes = req.maxBytes ?? DEFAULT_SSE_LIMIT_BYTES;
    const backendOf = { server: req.server, what: req.message.method };
    try {
      for (let attempt = 0;; attempt++) {
        let target: BackendTarget;
        try {
          target = await hooks.backend(attempt > 0);
        } catch (err) {
          // The backend refused to open a session for this caller's token: its 401, as above.
          if (err instanceof UpstreamError && err.status === 401 && hooks.unauthorized?.()) {
            return new Response(null, { status: 401, headers: sessionHeaders });
          }
          const e = hooks.backendError(err);
          return fail(e.code, e.message);
        }
        if (call.cancelled) return abortedError();
        call.target = target;
        const body = JSON.stringify({ ...req.message, id: call.backendId });
        arm();
        let res: BackendAnswer;
        try {
          res = await postBackend(this.#pool, target, body, call.ac.signal, backendOf);
        } catch (err) {
          if (call.ac.signal.aborted) return abortedError();
          if (err instanceof UpstreamError) return refused(err);
          return failed(redactedMessage(err));
        }
        if (res.status === 404 && attempt === 0) {
          // The backend forgot our session: start a new one and retry once.
          await res.body?.cancel().catch(() => {});
          hooks.log?.("info", `Backend session on ${req.server} expired; re-initialising.`);
          continue;
        }
        if (res.status === 401 && hooks.unauthorized?.()) {
          const text = await readBody(res.body, maxBytes, { ...backendOf, truncate: true }).catch(() =>
            undefined
          );
          const headers: Record<string, string> = { ...sessionHeaders };
          for (const h of ["content-type", "www-authenticate"]) {
            const v = res.headers.get(h);
            if (v !== null) headers[h] = v;
          }
          return new Response(text?.length ? text : null, { status: 401, headers });
        }
        if (res.status < 200 || res.status > 299) {
          const head = await readBody(res.body, 300, { ...backendOf, truncate: true }).catch(() => undefined);
          return failed(`HTTP ${res.status}${head?.length ? `: ${new TextDecoder().decode(head)}` : ""}`);
        }
        const ct = (res.headers.get("content-type") ?? "").toLowerCase();
        if (ct.includes("text/event-stream") && res.body) {
          const ctx = { arm, disarm, cleanup, t0, sessionHeaders, maxBytes };
          const relayed = await this.#stream(req, hooks, state, call, res.body, ctx);
          // From here the relay's stream ends the call (it was counted as active until then).
          streaming = true;
          return relayed;
        }
        let text: string;
        try {
          text = decoder.decode(await readBody(res.body, maxBytes, backendOf));
        } catch (err) {
          if (call.ac.signal.aborted) return abortedError();
          if (err instanceof UpstreamError) return refused(err);
          return failed(redactedMessage(err));
        }
        const msg = ct.includes("application/json") ? parseObject(text) : undefined;
        if (!msg || msg.method !== undefined || msg.id !== call.backendId) {
          if (msg?.method === undefined && msg?.id !== undefined) {
            hooks.log?.("warn", foreignResponse(req));
          }
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
   * stream, which are answered with one body: that spares the gateway a JS stream per call (about a
   * quarter of its CPU for a no-op tool in `deno task bench`). When the end came with the answer (in
   * one read of the HTTP/1.1 client) that costs no wait; else, while other calls are in flight, the
   * end is awaited for one turn of the event loop, and a lone call is streamed as soon as it is
   * answered. As soon as anything comes before the answer (progress, logging, a request to the
   * client), or the backend keeps its stream open after answering, the client gets a stream that
   * starts with what was read.
   */
  async #stream(
    req: CallRequest,
    hooks: CallHooks,
    state: SessionState,
    call: InflightCall,
    reader: ChunkReader,
    ctx: StreamContext,
  ): Promise<Response> {
    const { arm, disarm, cleanup, t0, sessionHeaders, maxBytes } = ctx;
    const target = call.target!;
    const method = req.message.method;
    let answered = false;
    const logged = new Set<string>();
    const drop = (line: string) => {
      // Once per call and kind: a backend must not be able to flood the log either.
      if (!logged.has(line)) hooks.log?.("warn", line);
      logged.add(line);
    };
    let sentEventId = "";
    /** One event of the backend's, as the client gets it ("" drops it). */
    const relay = (ev: SseEvent): string => {
      // SDK clients read only `message` events; other types carry nothing a client acts on.
      if (ev.type !== "message") return "";
      const msg = parseObject(ev.data);
      if (!msg) {
        drop(
          `Server ${req.server} sent an event that is not a JSON-RPC message during ${method}; it was dropped.`,
        );
        return "";
      }
      let data: string;
      if (typeof msg.method === "string") {
        if (msg.id !== undefined && msg.id !== null) {
          if (typeof msg.id !== "string" && typeof msg.id !== "number") {
            drop(`Server ${req.server} sent a request with an invalid id during ${method}; it was dropped.`);
            return "";
          }
          // The backend asks the client something: give it an id the gateway can map back.
          const gid = this.#newId("req");
          state.requests.set(gid, { server: req.server, target, backendId: msg.id });
          call.requests.push(gid);
          msg.id = gid;
          data = JSON.stringify(msg);
        } else {
          if (msg.method === "notifications/progress") arm();
          else if (msg.method.endsWith("/list_changed")) hooks.listChanged?.();
          // Data split over lines is joined by the reader; the client gets it on one.
          data = ev.data.includes("\n") ? JSON.stringify(msg) : ev.data;
        }
      } else if (!answered && msg.id === call.backendId) {
        answered = true;
        disarm();
        hooks.latency?.((performance.now() - t0) / 1000);
        msg.id = call.clientId;
        if (req.resourceKey) rewriteResultUris(msg.result, req.resourceKey);
        data = JSON.stringify(msg);
      } else {
        // Another id, or a second answer: it could resolve another pending request of the client's.
        drop(foreignResponse(req));
        return "";
      }
      const id = ev.lastEventId === sentEventId ? undefined : (sentEventId = ev.lastEventId);
      return formatSseEvent(data, { type: "message", id });
    };
    const sse = new SseReader({ maxLineBytes: maxBytes, maxEventBytes: maxBytes });
    /** Why the stream can no longer be read, once it cannot. */
    let broken: string | undefined;
    const feed = (chunk: Uint8Array): string => {
      let out = "";
      try {
        sse.push(chunk, (ev) => out += relay(ev));
      } catch (err) {
        broken = err instanceof SseLimitError
          ? `Server ${req.server} sent an SSE ${err.kind} over the ${err.limit}-byte limit during ${method}.`
          : `Server ${req.server} sent a stream the gateway could not read during ${method}.`;
        hooks.log?.("warn", broken);
      }
      return out;
    };
    const headers = { "content-type": "text/event-stream", "cache-control": "no-cache", ...sessionHeaders };
    const event = (code: number, message: string) =>
      formatSseEvent(errorBody(call.clientId, code, message), { type: "message" });
    /** What ends the client's stream when the backend's broke a limit. */
    const brokenTail = () => answered || call.cancelled ? "" : event(PassthroughCode.InternalError, broken!);
    const timeoutEvent = () =>
      event(
        PassthroughCode.RequestTimeout,
        `Server ${req.server} did not answer ${req.message.method} in time.`,
      );
    /** What ends the client's stream once the backend's ended (`err`: it broke off). */
    const ending = (err?: unknown): string => {
      if (err === undefined) {
        return answered || call.cancelled ? "" : (call.timedOut ? timeoutEvent() : event(
          PassthroughCode.ConnectionClosed,
          `Server ${req.server} closed the connection during ${req.message.method}.`,
        ));
      }
      if (call.cancelled || answered) return "";
      if (call.timedOut) return timeoutEvent();
      return event(
        PassthroughCode.ConnectionClosed,
        `Server ${req.server} closed the connection during ${req.message.method}: ${redactedMessage(err)}`,
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
      head += feed(r.value);
      if (broken) {
        cleanup();
        interrupt();
        return new Response(head + brokenTail(), { headers });
      }
      if (!answered) {
        if (head) break;
        continue;
      }
      // Answered: one body if the stream ends now, else a stream (the backend may still say more).
      // Most backends send the answer and the body's end together, which our HTTP/1.1 client sees at once.
      if (reader.ended?.()) {
        cleanup();
        return new Response(head, { headers });
      }
      pending = reader.read();
      // Waiting a turn for the end saves CPU only when other calls share the process; for a lone
      // call it is latency alone (about 0.1 ms of a no-op tool's p50 in `bench/ab_gateway.ts`).
      if (this.#active === 1) break;
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
          const out = feed(r.value);
          if (broken) return finish(out + brokenTail());
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
        const res = await fetchBackend(mapped.target.endpoint, {
          method: "POST",
          headers: backendHeaders(mapped.target),
          body: JSON.stringify({ ...message, id: mapped.backendId }),
          signal: AbortSignal.timeout(10_000),
        }, { server: mapped.server, what: "the client's answer" });
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
      if (target) await this.#notifyCancelled(call.server, target, call.backendId, params?.reason);
      call.ac.abort();
      call.end?.();
      return new Response(null, { status: 202, headers: { "mcp-session-id": sessionId } });
    })();
  }

  async #notifyCancelled(
    server: string,
    target: BackendTarget,
    backendId: RpcId,
    reason: unknown,
  ): Promise<void> {
    try {
      const res = await fetchBackend(target.endpoint, {
        method: "POST",
        headers: backendHeaders(target),
        body: JSON.stringify({
          jsonrpc: "2.0",
          method: "notifications/cancelled",
          params: { requestId: backendId, ...(typeof reason === "string" ? { reason } : {}) },
        }),
        signal: AbortSignal.timeout(5000),
      }, { server, what: "notifications/cancelled" });
      await res.body?.cancel().catch(() => {});
    } catch {
      // Best effort, as the SDK's own cancellation.
    }
  }

  /** Closes the idle connections to backends; calls still running end on their own. */
  close(): void {
    this.#pool.close();
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
