/**
 * The cheapest hop Deno offers, for the gateway suite's floor: a reverse proxy that forwards every
 * request to one MCP endpoint with `fetch` and streams the answer back, knowing nothing of MCP (no
 * parsing, no sessions, no renaming). `deno run -A bench/peers/deno_proxy.ts URL [--port N]` prints
 * `listening deno-proxy URL` when ready; exits on SIGTERM or SIGINT and runs a full GC on SIGUSR2.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { installGcSignal, untilStopped } from "../gc_signal.ts";

/** Request headers a proxy must not forward (hop-by-hop, or set by fetch itself). */
const HOP_HEADERS = ["host", "connection", "keep-alive", "transfer-encoding", "content-length"];

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: "string", default: "0" } },
  });
  if (positionals.length !== 1) {
    console.error("Usage: deno run -A bench/peers/deno_proxy.ts URL [--port N]");
    return 2;
  }
  const target = new URL(positionals[0]);
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: Number(values.port),
    onListen: ({ port }) => console.log(`listening deno-proxy http://127.0.0.1:${port}${target.pathname}`),
  }, async (req) => {
    const headers = new Headers(req.headers);
    for (const h of HOP_HEADERS) headers.delete(h);
    const url = new URL(req.url);
    try {
      const res = await fetch(new URL(url.pathname + url.search, target), {
        method: req.method,
        headers,
        // Buffered: MCP requests are small, and a buffered body is cheaper to forward than a stream.
        body: req.body ? await req.arrayBuffer() : undefined,
        signal: req.signal,
      });
      return new Response(res.body, { status: res.status, headers: res.headers });
    } catch (err) {
      return new Response(`Bad gateway: ${err instanceof Error ? err.message : err}\n`, { status: 502 });
    }
  });
  // The suite measures this process's memory per idle session after a full GC, as the gateway's.
  const removeGc = installGcSignal();
  await untilStopped();
  removeGc();
  await server.shutdown();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
