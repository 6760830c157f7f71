/**
 * The least a Deno hop does that keeps each answer to its own request, for the gateway suite's third
 * floor: a reverse proxy that forwards to one MCP endpoint as bench/peers/deno_proxy.ts does, but
 * gives every JSON-RPC request it forwards an id of its own and restores the client's in the answer,
 * so it reads the request and the answer in JS (the answer's SSE events, or its JSON body) and writes
 * them out again. The gateway does this for every call (a backend must not be able to answer another
 * request); the bytes-only floors cannot, as their answers never pass through JS. It sends, reads and
 * relays the cheapest ways the gateway found: POSTs on the gateway's own HTTP/1.1 client and pool
 * (`sim/http1.ts`; `fetch` where that cannot), its `chunkReader` for a `fetch` body, and see
 * {@linkcode rewrittenAnswer}.
 * Nothing else: no sessions of its own, no validation, renaming, policy or limits. SSE lines may end
 * in LF or CRLF; event ids and comments are dropped. The process around it is deno_proxy.ts's
 * `runProxy`: `deno run -A bench/peers/deno_rewriting_proxy.ts URL [--port N]` prints
 * `listening deno-rewriting-proxy URL` when ready; exits on SIGTERM or SIGINT and runs a full GC on
 * SIGUSR2.
 *
 * @module
 */

import { type ChunkReader, chunkReader, readBody } from "../../sim/backend_fetch.ts";
import { nextTurn } from "../../sim/deadlines.ts";
import { canPostHttp1, Http1Pool } from "../../sim/http1.ts";
import { type Forward, type ProxiedRequest, runProxy } from "./deno_proxy.ts";

const encoder = new TextEncoder();

/** A forwarded request's ids: the client's, and the one the backend saw. */
interface IdPair {
  client: unknown;
  own: string;
}

/** The answer's JSON-RPC message with the client's id back, if it answers `ids`; else unchanged. */
function restoreId(data: string, ids: IdPair): string {
  const msg = JSON.parse(data);
  if (msg === null || typeof msg !== "object" || msg.method !== undefined || msg.id !== ids.own) return data;
  msg.id = ids.client;
  return JSON.stringify(msg);
}

/** The data of each complete SSE event in `text`, and what is left of an event not yet complete. */
function sseEvents(text: string): { data: string[]; rest: string } {
  const data: string[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf("\n\n", start);
    if (end < 0) break;
    const lines: string[] = [];
    for (const line of text.slice(start, end).split("\n")) {
      if (line.startsWith("data:")) lines.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    if (lines.length) data.push(lines.join("\n"));
    start = end + 2;
  }
  return { data, rest: text.slice(start) };
}

/**
 * The backend's SSE answer, each event read and written again with the client's id restored. As the
 * gateway does: an answer whose end was read with it goes out as one body (cheaper than a stream), as
 * does, while other answers are in flight, one whose stream ends a turn later; otherwise it is
 * streamed from its first event. `done` runs once the answer is out.
 */
async function rewrittenAnswer(
  reader: ChunkReader,
  ids: IdPair,
  init: ResponseInit,
  others: () => number,
  done: () => void,
): Promise<Response> {
  const decoder = new TextDecoder();
  let pending = "";
  const feed = (bytes: Uint8Array) => {
    const chunk = decoder.decode(bytes, { stream: true });
    const { data, rest } = sseEvents(
      pending + (chunk.includes("\r") ? chunk.replaceAll("\r\n", "\n") : chunk),
    );
    pending = rest;
    let out = "";
    for (const d of data) out += `event: message\ndata: ${restoreId(d, ids)}\n\n`;
    return out;
  };
  let head = "";
  // Each chunk is decoded before the next read, which reuses its bytes.
  let next: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
  try {
    for (;;) {
      const r = await (next ?? reader.read());
      next = undefined;
      if (r.done) {
        done();
        return new Response(head, init);
      }
      head += feed(r.value);
      if (!head) continue;
      if (reader.ended?.()) {
        done();
        return new Response(head, init);
      }
      if (!others()) break;
      next = reader.read();
      const ended = await Promise.race([next.then((n) => n.done, () => true), nextTurn()]);
      if (ended !== true) break;
    }
  } catch (err) {
    done();
    throw err;
  }
  let finished = false;
  const finish = () => {
    if (!finished) done();
    finished = true;
  };
  return new Response(
    new ReadableStream<Uint8Array>({
      start: (controller) => controller.enqueue(encoder.encode(head)),
      async pull(controller) {
        for (;;) {
          const r = await (next ?? reader.read());
          next = undefined;
          if (r.done) {
            finish();
            return controller.close();
          }
          const out = feed(r.value);
          if (out) return controller.enqueue(encoder.encode(out));
        }
      },
      cancel: (reason) => {
        finish();
        return reader.cancel(reason);
      },
    }),
    init,
  );
}

let seq = 0;
/** Answers being read, to tell one alone from one among others. */
let active = 0;

const pool = new Http1Pool();
const decoder = new TextDecoder();

/** The POST's answer: status, headers to send on, and a reader of the body (null: none). */
async function post(
  to: ProxiedRequest,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; headers: Headers; reader: ChunkReader | null }> {
  const headers: Record<string, string> = {};
  to.headers.forEach((value, name) => headers[name] = value);
  if (canPostHttp1(to.url, headers)) {
    const answer = await pool.post(to.url, headers, body, signal);
    const out = new Headers();
    for (const name of ["content-type", "cache-control", "mcp-session-id", "www-authenticate"]) {
      const value = answer.headers.get(name);
      if (value !== null) out.set(name, value);
    }
    return { status: answer.status, headers: out, reader: answer.body };
  }
  const res = await fetch(to.url, { method: "POST", headers: to.headers, body, signal });
  const out = new Headers(res.headers);
  out.delete("content-length");
  return { status: res.status, headers: out, reader: res.body ? chunkReader(res.body) : null };
}

/** Forwards a request under an id of its own and answers with the client's id put back. */
const forwardRewritten: Forward = async (req, to) => {
  if (req.method !== "POST") {
    const res = await fetch(to.url, { method: req.method, headers: to.headers, signal: req.signal });
    return new Response(res.body, { status: res.status, headers: res.headers });
  }
  const msg = JSON.parse(await req.text());
  let ids: IdPair | undefined;
  if (msg !== null && typeof msg === "object" && typeof msg.method === "string" && msg.id != null) {
    ids = { client: msg.id, own: `floor-${++seq}` };
    msg.id = ids.own;
  }
  const res = await post(to, JSON.stringify(msg), req.signal);
  const init = { status: res.status, headers: res.headers };
  const whole = async () =>
    decoder.decode(await readBody(res.reader, 16 * 1024 * 1024, { server: "", what: "" }));
  if (!ids || !res.reader || res.status < 200 || res.status > 299) {
    const text = await whole();
    return new Response(text || null, init);
  }
  if (!(res.headers.get("content-type") ?? "").includes("text/event-stream")) {
    return new Response(restoreId(await whole(), ids), init);
  }
  active++;
  let counted = true;
  const done = () => {
    if (counted) active--;
    counted = false;
  };
  return await rewrittenAnswer(res.reader, ids, init, () => active - 1, done);
};

if (import.meta.main) {
  Deno.exit(
    await runProxy(
      Deno.args,
      "bench/peers/deno_rewriting_proxy.ts",
      "deno-rewriting-proxy",
      forwardRewritten,
    ),
  );
}
