/**
 * The cheapest hop Deno offers, for the gateway suite's floor: a reverse proxy that forwards every
 * request to one MCP endpoint with `fetch` and streams the answer back, knowing nothing of MCP (no
 * parsing, no sessions, no renaming). `deno run -A bench/peers/deno_proxy.ts URL [--port N]` prints
 * `listening deno-proxy URL` when ready; exits on SIGTERM or SIGINT and runs a full GC on SIGUSR2.
 * {@linkcode runProxy} is the same process around another way to forward (the id-rewriting floor's).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { whileServing } from "../gc_signal.ts";

/** Request headers a proxy must not forward (hop-by-hop, or set by fetch itself). */
const HOP_HEADERS = ["host", "connection", "keep-alive", "transfer-encoding", "content-length"];

/** Where a proxy sends one request on, and the request's headers to send with it. */
export interface ProxiedRequest {
  /** The target endpoint's origin with the request's path and query. */
  url: URL;
  /** The request's headers without the hop-by-hop ones. */
  headers: Headers;
}

/** How a proxy answers one request; what it throws becomes a 502 naming the error. */
export type Forward = (req: Request, to: ProxiedRequest) => Promise<Response>;

/**
 * Runs a reverse proxy on loopback in front of the MCP endpoint in `args` (`URL [--port N]`),
 * answering each request with `forward`, until SIGTERM or SIGINT. Prints `listening NAME URL` when
 * ready; runs a full GC on SIGUSR2 (the suite measures the process's memory per idle session after
 * one, as the gateway's). Resolves to the exit code; `script` names the program in its usage line.
 */
export async function runProxy(
  args: string[],
  script: string,
  name: string,
  forward: Forward,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: "string", default: "0" } },
  });
  if (positionals.length !== 1) {
    console.error(`Usage: deno run -A ${script} URL [--port N]`);
    return 2;
  }
  const target = new URL(positionals[0]);
  const stopped = whileServing();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port),
    onListen: ({ port }) => console.log(`listening ${name} http://127.0.0.1:${port}${target.pathname}`),
  }, async (req) => {
    const headers = new Headers(req.headers);
    for (const h of HOP_HEADERS) headers.delete(h);
    const url = new URL(req.url);
    try {
      return await forward(req, { url: new URL(url.pathname + url.search, target), headers });
    } catch (err) {
      return new Response(`Bad gateway: ${err instanceof Error ? err.message : err}\n`, { status: 502 });
    }
  });
  await stopped;
  await server.shutdown();
  return 0;
}

/** Forwards the request as it came and streams the answer back. */
const forwardBytes: Forward = async (req, to) => {
  const res = await fetch(to.url, {
    method: req.method,
    headers: to.headers,
    // Buffered: MCP requests are small, and a buffered body is cheaper to forward than a stream.
    body: req.body ? await req.arrayBuffer() : undefined,
    signal: req.signal,
  });
  return new Response(res.body, { status: res.status, headers: res.headers });
};

if (import.meta.main) {
  Deno.exit(await runProxy(Deno.args, "bench/peers/deno_proxy.ts", "deno-proxy", forwardBytes));
}
