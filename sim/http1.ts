/**
 * The `tools/call` pass-through's own HTTP/1.1 client: POSTs to plain-http backends on kept-alive
 * connections of a small pool, the request written and the answer parsed in JS. `fetch` cost the
 * gateway more CPU per call than everything else it does (`bench/ab_gateway.ts`, 6 blocks, against
 * the gateway that used `fetch`: hop CPU per call under load 0.179 against 0.273 ms, sequential p50
 * 0.795 against 0.926 ms), so the call path uses this where it can; everything
 * {@linkcode canPostHttp1} refuses (https, a proxy from the environment, credentials in the URL,
 * a header `fetch` would refuse) and every redirect still goes through `fetch`.
 *
 * What the backend sees is what `fetch` sends (the same headers, `accept-language: *` and Deno's
 * `user-agent` unless the request has its own) except `accept-encoding`: no compression is asked
 * for, and an answer with a transfer coding other than `chunked` is an error.
 *
 * Every byte comes from a backend the gateway does not trust: the response head and each chunk line
 * are capped, a body whose length is ambiguous is an error, and a connection goes back to the pool
 * only when its answer was read to the end with nothing after it. A connection reused after idling
 * may have been closed by the backend meanwhile; when it ends before a byte of the answer came, the
 * request is sent once more on a new connection (as browsers do), and a connection idle longer than
 * {@linkcode IDLE_MS} is not reused at all: it is closed, by one timer for the pool that runs while
 * any connection is idle.
 *
 * @module
 */

import { GatewayError } from "./errors.ts";

/** A connection idle longer than this is closed instead of reused (servers' keep-alive timeouts are 5 s and up). */
export const IDLE_MS = 4000;
/** Most bytes of a response's status line and headers. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Most bytes of one chunk-size line, and of a chunked body's trailers. */
const MAX_CHUNK_LINE_BYTES = 4096;
/** Idle connections kept per backend origin. */
const MAX_IDLE_PER_ORIGIN = 32;
/** First read buffer of a connection; grown for a head up to {@linkcode MAX_HEAD_BYTES}. */
const BUFFER_BYTES = 16 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\0\r\n]/;
/** Control characters a response header value must not hold (tab is allowed). */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\0-\x08\x0a-\x1f\x7f]/;
const encoder = new TextEncoder();
/** Header bytes are Latin-1 to `fetch` too (`ByteString`). */
const latin1 = new TextDecoder("latin1");
const USER_AGENT = `Deno/${Deno.version.deno}`;

/** A backend's answer could not be read as HTTP/1.1, or its connection broke. */
export class Http1Error extends GatewayError {
  /** Stable code of this error. */
  override readonly code: string = "ERR_HTTP1";
}

/** The headers of an answer, names in lower case (repeated ones joined with `, `, as `Headers` does). */
export interface AnswerHeaders {
  /** The value of `name` (any case), or null. */
  get(name: string): string | null;
}

/**
 * A reader of a body whose chunks stay valid only until the next read: this client's bodies, and
 * `fetch` bodies read through `backend_fetch.ts`'s `chunkReader`.
 */
export interface ChunkReader {
  /** The next chunk; its bytes are overwritten by the read after it. */
  read(): Promise<ReadableStreamReadResult<Uint8Array>>;
  /**
   * Whether the body has ended already, its end read with the last chunk: the next read() gives
   * done without waiting, and the last chunk's bytes may be overwritten from now on. Optional: a
   * reader that cannot tell without waiting has none, or says false.
   */
  ended?(): boolean;
  /** Stops reading; a pending read ends (done). */
  cancel(reason?: unknown): Promise<void>;
}

/** An answer read by {@linkcode Http1Pool.post}: its body is read, or cancelled, by the caller. */
export interface Http1Answer {
  status: number;
  headers: AnswerHeaders;
  body: ChunkReader;
}

/** Whether the pool may send this request itself (else it goes through `fetch`). */
export function canPostHttp1(url: URL, headers: Record<string, string>): boolean {
  if (url.protocol !== "http:" || url.username || url.password || proxied()) return false;
  for (const name in headers) {
    if (!TOKEN.test(name) || BAD_VALUE.test(headers[name])) return false;
  }
  return true;
}

let proxyVariable: boolean | undefined;
/** `fetch` sends through a proxy named in the environment; this client does not, so it stands aside. */
function proxied(): boolean {
  if (proxyVariable === undefined) {
    try {
      proxyVariable = ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"].some((v) => !!Deno.env.get(v));
    } catch {
      // No permission to read the environment: no way to know, so leave it to fetch.
      proxyVariable = true;
    }
  }
  return proxyVariable;
}

/** One kept-alive TCP connection and the bytes read from it but not yet consumed. */
class Connection {
  buf = new Uint8Array(BUFFER_BYTES);
  start = 0;
  end = 0;
  idleSince = 0;
  closed = false;

  constructor(readonly conn: Deno.TcpConn, readonly origin: string) {
    // One write per request: nothing to gain from Nagle's delay.
    conn.setNoDelay(true);
  }

  /** Reads more bytes; false at the end of the stream. Throws when the buffer is full at `cap`. */
  async fill(cap: number): Promise<boolean> {
    if (this.start === this.end) this.start = this.end = 0;
    if (this.end === this.buf.length) {
      if (this.start > 0) {
        this.buf.copyWithin(0, this.start, this.end);
        this.end -= this.start;
        this.start = 0;
      } else if (this.buf.length < cap) {
        const bigger = new Uint8Array(Math.min(cap, this.buf.length * 2));
        bigger.set(this.buf);
        this.buf = bigger;
      } else {
        throw new Http1Error(`more than ${cap} bytes without a line end`);
      }
    }
    const n = await this.conn.read(this.buf.subarray(this.end));
    if (n === null) return false;
    this.end += n;
    return true;
  }

  /** The index just past the next line end (LF, maybe after CR) at or after `from`, or -1. */
  lineEnd(from: number): number {
    const i = this.buf.subarray(from, this.end).indexOf(10);
    return i < 0 ? -1 : from + i + 1;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}

/** How the body of an answer ends. */
type Framing = { kind: "none" } | { kind: "length"; left: number } | { kind: "chunked" } | { kind: "close" };

/** Keep-alive connections to backends, per origin; see the module doc. */
export class Http1Pool {
  #idle = new Map<string, Connection[]>();
  #closed = false;
  #idleMs: number;
  /** Closes connections idle too long, while any is idle (one timer for the pool). */
  #sweeper?: ReturnType<typeof setInterval>;

  /** A pool; `idleMs` (default {@linkcode IDLE_MS}) is how long a connection may idle before it is closed. */
  constructor(opts: { idleMs?: number } = {}) {
    this.#idleMs = opts.idleMs ?? IDLE_MS;
  }

  /**
   * POSTs `body` to `url` with `headers` (checked with {@linkcode canPostHttp1} first) and resolves
   * once the answer's head is in. `signal` aborts the exchange, the body's reading included.
   */
  async post(
    url: URL,
    headers: Record<string, string>,
    body: string,
    signal?: AbortSignal,
  ): Promise<Http1Answer> {
    signal?.throwIfAborted();
    const bytes = this.#request(url, headers, body);
    for (let attempt = 0;; attempt++) {
      const reused = attempt === 0 ? this.#take(url.host) : undefined;
      const c = reused ?? await this.#connect(url, signal);
      const abort = () => c.close();
      signal?.addEventListener("abort", abort, { once: true });
      try {
        // An abort while connecting fired before the listener above was added.
        signal?.throwIfAborted();
        await writeAll(c.conn, bytes);
        const head = await readHead(c);
        if (head === "closed" && reused) {
          // The backend closed the idle connection as the request went out: once more, on a new one.
          signal?.removeEventListener("abort", abort);
          c.close();
          continue;
        }
        if (head === "closed") throw new Http1Error("the connection closed before an answer");
        return this.#answer(c, head, signal, abort);
      } catch (err) {
        signal?.removeEventListener("abort", abort);
        c.close();
        if (signal?.aborted) throw signal.reason;
        const reset = err instanceof Deno.errors.BrokenPipe || err instanceof Deno.errors.ConnectionReset;
        // As "closed" above: the idle connection was gone before a byte of the answer came.
        if (reused && reset && c.end === 0) continue;
        throw err instanceof Http1Error ? err : new Http1Error(message(err), { cause: err });
      }
    }
  }

  /** Closes every idle connection; the pool keeps none after this. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const list of this.#idle.values()) for (const c of list) c.close();
    this.#idle.clear();
  }

  #request(url: URL, headers: Record<string, string>, body: string): Uint8Array {
    const payload = encoder.encode(body);
    let head = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n`;
    let agent = false;
    let language = false;
    for (const name in headers) {
      const lower = name.toLowerCase();
      if (lower === "host" || lower === "content-length" || lower === "connection") continue;
      if (lower === "user-agent") agent = true;
      if (lower === "accept-language") language = true;
      head += `${name}: ${headers[name]}\r\n`;
    }
    if (!language) head += "accept-language: *\r\n";
    if (!agent) head += `user-agent: ${USER_AGENT}\r\n`;
    head += `content-length: ${payload.length}\r\n\r\n`;
    const headBytes = encoder.encode(head);
    const out = new Uint8Array(headBytes.length + payload.length);
    out.set(headBytes);
    out.set(payload, headBytes.length);
    return out;
  }

  /** An idle connection to `origin` that has not idled too long, if any. */
  #take(origin: string): Connection | undefined {
    const list = this.#idle.get(origin);
    const now = performance.now();
    for (let c = list?.pop(); c; c = list!.pop()) {
      if (this.#fresh(c, now)) return c;
      c.close();
    }
    return undefined;
  }

  async #connect(url: URL, signal?: AbortSignal): Promise<Connection> {
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const connecting = Deno.connect({ hostname, port: Number(url.port || 80) });
    if (!signal) return new Connection(await connecting, url.host);
    // Deno.connect's own `signal` would also close the connection later, in the pool: race it instead.
    let onAbort!: () => void;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      return new Connection(await Promise.race([connecting, aborted]), url.host);
    } catch (err) {
      connecting.then((conn) => conn.close(), () => {});
      throw err;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  #release(c: Connection): void {
    if (this.#closed || c.closed || c.start !== c.end) return c.close();
    let list = this.#idle.get(c.origin);
    if (!list) this.#idle.set(c.origin, list = []);
    if (list.length >= MAX_IDLE_PER_ORIGIN) return c.close();
    c.start = c.end = 0;
    c.idleSince = performance.now();
    list.push(c);
    if (this.#sweeper === undefined) {
      // A backend that closes its idle connections leaves ours half-closed: their descriptors go too.
      this.#sweeper = setInterval(() => this.#sweep(), this.#idleMs);
      Deno.unrefTimer(this.#sweeper);
    }
  }

  /** Whether `c` has idled less than the pool allows. */
  #fresh(c: Connection, now: number): boolean {
    return now - c.idleSince < this.#idleMs;
  }

  #sweep(): void {
    const now = performance.now();
    for (const [origin, list] of this.#idle) {
      const fresh: Connection[] = [];
      for (const c of list) {
        if (this.#fresh(c, now)) fresh.push(c);
        else c.close();
      }
      if (fresh.length) this.#idle.set(origin, fresh);
      else this.#idle.delete(origin);
    }
    if (!this.#idle.size) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #answer(c: Connection, head: Head, signal: AbortSignal | undefined, abort: () => void): Http1Answer {
    const framing = framingOf(head);
    const reusable = head.keepAlive && framing.kind !== "close";
    let done = false;
    let cancelled = false;
    /** Ends the body: the connection goes back to the pool if the whole answer was read, else closes. */
    const finish = (complete: boolean) => {
      if (done) return;
      done = true;
      signal?.removeEventListener("abort", abort);
      if (complete && reusable) this.#release(c);
      else c.close();
    };
    const progress: BodyProgress = { left: -1 };
    const reading = bodyChunks(c, framing, progress);
    if (framing.kind === "none") finish(true);
    /** A read is under way: the buffer is the generator's until it returns. */
    let busy = false;
    const body: ChunkReader = {
      ended: () => {
        if (done) return true;
        if (busy || !endBuffered(c, framing, progress)) return false;
        c.start = c.end;
        // The generator, paused after the last chunk, is not resumed: read() answers done from here.
        finish(true);
        return true;
      },
      read: async () => {
        if (done) return { done: true, value: undefined };
        busy = true;
        try {
          const r = await reading.next();
          if (r.done) finish(true);
          return r.done ? { done: true, value: undefined } : { done: false, value: r.value };
        } catch (err) {
          finish(false);
          if (cancelled) return { done: true, value: undefined };
          if (signal?.aborted) throw signal.reason;
          throw err instanceof Http1Error ? err : new Http1Error(message(err), { cause: err });
        } finally {
          busy = false;
        }
      },
      cancel: () => {
        if (!done) cancelled = true;
        finish(false);
        return Promise.resolve();
      },
    };
    return { status: head.status, headers: head.headers, body };
  }
}

/** A response head. */
interface Head {
  status: number;
  headers: AnswerHeaders & { has(name: string): boolean };
  /** HTTP/1.1 without `connection: close`. */
  keepAlive: boolean;
}

/** A head's headers, names lower-cased. */
class HeadHeaders implements AnswerHeaders {
  readonly #map = new Map<string, string>();

  add(name: string, value: string): void {
    const lower = name.toLowerCase();
    const had = this.#map.get(lower);
    this.#map.set(lower, had === undefined ? value : `${had}, ${value}`);
  }

  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }
}

async function writeAll(conn: Deno.TcpConn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** The index just past the empty line that ends the head in `c`'s buffer, or -1 while it is incomplete. */
function headEnd(c: Connection): number {
  for (let at = c.lineEnd(c.start); at >= 0; at = c.lineEnd(at)) {
    if (at >= c.end) return -1;
    if (c.buf[at] === 10) return at + 1;
    if (c.buf[at] === 13) {
      if (at + 1 >= c.end) return -1;
      if (c.buf[at + 1] === 10) return at + 2;
    }
  }
  return -1;
}

/**
 * The next final (non-1xx) response head on `c`, or "closed" when the connection ended before a
 * byte of it came.
 */
async function readHead(c: Connection): Promise<Head | "closed"> {
  for (;;) {
    let end: number;
    while ((end = headEnd(c)) < 0) {
      if (c.end - c.start >= MAX_HEAD_BYTES) {
        throw new Http1Error(`a response head over ${MAX_HEAD_BYTES} bytes`);
      }
      const empty = c.start === c.end;
      if (!await c.fill(MAX_HEAD_BYTES)) {
        if (empty) return "closed";
        throw new Http1Error("the connection closed in the middle of the response head");
      }
    }
    const lines = latin1.decode(c.buf.subarray(c.start, end)).split("\n");
    c.start = end;
    const status = /^HTTP\/1\.([01]) (\d{3})(?: [^\r]*)?\r?$/.exec(lines[0]);
    if (!status) throw new Http1Error("an answer that is not HTTP/1.x");
    const code = Number(status[2]);
    const headers = new HeadHeaders();
    for (const raw of lines.slice(1)) {
      const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
      if (!line) continue;
      const colon = line.indexOf(":");
      const name = colon > 0 ? line.slice(0, colon) : "";
      const value = line.slice(colon + 1).trim();
      // No folded lines, no malformed names, no control characters but tab: as hyper's parser.
      if (!TOKEN.test(name) || CONTROL.test(value)) {
        throw new Http1Error("a malformed response header");
      }
      headers.add(name, value);
    }
    if (code === 101) throw new Http1Error("an unexpected protocol switch");
    if (code < 200) continue;
    const connection = headers.get("connection")?.toLowerCase() ?? "";
    return {
      status: code,
      headers,
      keepAlive: status[1] === "1" && !/(^|,)\s*close\s*(,|$)/.test(connection),
    };
  }
}

/** How the body of `head` is delimited (RFC 9112, section 6.3). */
function framingOf(head: Head): Framing {
  if (head.status === 204 || head.status === 304) return { kind: "none" };
  const te = head.headers.get("transfer-encoding");
  if (te !== null) {
    if (te.trim().toLowerCase() !== "chunked") {
      throw new Http1Error(`an unsupported transfer-encoding (${te.slice(0, 40)})`);
    }
    // Both framings at once is how smuggling starts: chunked wins, and the connection is not reused.
    if (head.headers.has("content-length")) head.keepAlive = false;
    return { kind: "chunked" };
  }
  const cl = head.headers.get("content-length");
  if (cl === null) return { kind: "close" };
  const values = new Set(cl.split(",").map((v) => v.trim()));
  const [only] = values;
  if (values.size !== 1 || !/^\d{1,15}$/.test(only)) throw new Http1Error("an invalid content-length");
  const left = Number(only);
  return left === 0 ? { kind: "none" } : { kind: "length", left };
}

/** Where {@linkcode bodyChunks} is: bytes of the current chunk (or of a `length` body) not yet yielded, -1 before any. */
interface BodyProgress {
  left: number;
}

/** A chunked body's last chunk (size 0, no extension) and the empty line that ends it, with nothing after. */
const LAST_CHUNK = /^\r?\n0{1,12}\r?\n\r?\n$/;

/**
 * Whether the rest of the body is in `c`'s buffer and holds no more data, so that it is read to the
 * end without waiting: a `length` body whose bytes were all yielded, or a chunked body paused right
 * after a chunk's data with only the chunk's line end and the last chunk buffered (trailers, or
 * anything else, leave the decision to reading on).
 */
function endBuffered(c: Connection, framing: Framing, progress: BodyProgress): boolean {
  if (progress.left !== 0) return false;
  if (framing.kind === "length") return c.start === c.end;
  if (framing.kind !== "chunked" || c.end - c.start > 32) return false;
  return LAST_CHUNK.test(latin1.decode(c.buf.subarray(c.start, c.end)));
}

/** The body's bytes as they come, views of the connection's buffer valid until the next read. */
async function* bodyChunks(
  c: Connection,
  framing: Framing,
  progress: BodyProgress,
): AsyncGenerator<Uint8Array, void> {
  if (framing.kind === "none") return;
  if (framing.kind === "close") {
    for (;;) {
      if (c.start === c.end && !await c.fill(BUFFER_BYTES)) return;
      const view = c.buf.subarray(c.start, c.end);
      c.start = c.end;
      yield view;
    }
  }
  if (framing.kind === "length") {
    yield* exactly(c, framing.left, progress);
    return;
  }
  let trailer = 0;
  for (;;) {
    const lineEnd = await line(c);
    const text = latin1.decode(c.buf.subarray(c.start, lineEnd)).trim();
    c.start = lineEnd;
    const size = /^([0-9a-fA-F]{1,12})(?:\s*;.*)?$/.exec(text);
    if (!size) throw new Http1Error("a malformed chunk size");
    const n = parseInt(size[1], 16);
    if (n === 0) break;
    yield* exactly(c, n, progress);
    const after = await line(c);
    const crlf = after - c.start === 2 ? c.buf[c.start] === 13 : after - c.start === 1;
    if (!crlf) throw new Http1Error("a chunk longer than its size");
    c.start = after;
  }
  // Trailers, if any, up to the empty line; they are not used.
  for (;;) {
    const lineEnd = await line(c);
    const empty = lineEnd - c.start <= 2;
    trailer += lineEnd - c.start;
    c.start = lineEnd;
    if (empty) return;
    if (trailer > MAX_CHUNK_LINE_BYTES) throw new Http1Error("trailers over the limit");
  }
}

/** The end of the next line in `c`'s buffer, reading as needed (capped). */
async function line(c: Connection): Promise<number> {
  for (;;) {
    const end = c.lineEnd(c.start);
    if (end >= 0) return end;
    if (c.end - c.start >= MAX_CHUNK_LINE_BYTES) throw new Http1Error("a chunk line over the limit");
    if (!await c.fill(MAX_CHUNK_LINE_BYTES * 2)) {
      throw new Http1Error("the connection closed in the middle of the body");
    }
  }
}

/** `count` bytes of `c` as they come; `progress.left` counts down what is left of them. */
async function* exactly(
  c: Connection,
  count: number,
  progress: BodyProgress,
): AsyncGenerator<Uint8Array, void> {
  for (progress.left = count; progress.left > 0;) {
    if (c.start === c.end && !await c.fill(BUFFER_BYTES)) {
      throw new Http1Error("the connection closed in the middle of the body");
    }
    const take = Math.min(progress.left, c.end - c.start);
    const view = c.buf.subarray(c.start, c.start + take);
    c.start += take;
    progress.left -= take;
    yield view;
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
