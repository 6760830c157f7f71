/**
 * mcp-hub (npm `mcp-hub`, installed by the gateway suite) as a peer gateway for the gateway suite, run
 * by Deno in this process so the harness can ask it for a full GC (SIGUSR2, see `../gc_signal.ts`):
 * `deno run -A --v8-flags=--expose-gc bench/peers/mcp_hub.ts CLI_JS BACKEND_URL DIR`, where `CLI_JS` is
 * the package's `dist/cli.js`, `BACKEND_URL` the one Streamable HTTP server it fronts (as `slow`) and
 * `DIR` an empty directory that becomes its home, data, state and config folders. Prints
 * `listening mcp-hub URL` (its HTTP+SSE endpoint) once the backend is connected; mcp-hub itself exits
 * on SIGTERM or SIGINT.
 *
 * @module
 */

import process from "node:process";
import { installGcSignal } from "../gc_signal.ts";

/** The name the backend is registered under: its tools are `slow__NAME` through the hub. */
const BACKEND = "slow";

/** A free loopback port: mcp-hub wants a port number and prints nothing we could read one from. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function main(args: string[]): Promise<number> {
  if (args.length !== 3) {
    console.error("Usage: deno run -A --v8-flags=--expose-gc bench/peers/mcp_hub.ts CLI_JS BACKEND_URL DIR");
    return 2;
  }
  const [cli, backend, dir] = args;
  // Its folders: XDG ones unless ~/.mcp-hub exists, so HOME moves too.
  for (
    const [name, sub] of [["HOME", "home"], ["XDG_DATA_HOME", "data"], ["XDG_STATE_HOME", "state"], [
      "XDG_CONFIG_HOME",
      "config",
    ]]
  ) {
    await Deno.mkdir(`${dir}/${sub}`, { recursive: true });
    Deno.env.set(name, `${dir}/${sub}`);
  }
  // The marketplace catalog is fetched from the internet at start-up unless its cache is fresh (less
  // than an hour old) and lists at least one server.
  await Deno.mkdir(`${dir}/data/mcp-hub/cache`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/data/mcp-hub/cache/registry.json`,
    JSON.stringify({
      registry: {
        version: "bench",
        generatedAt: Date.now(),
        totalServers: 1,
        servers: [{ id: "bench-placeholder", name: "bench placeholder", description: "", tags: [] }],
      },
      lastFetchedAt: Date.now(),
      serverDocumentation: {},
    }),
  );
  const config = `${dir}/mcp-servers.json`;
  await Deno.writeTextFile(config, JSON.stringify({ mcpServers: { [BACKEND]: { url: backend } } }));
  const port = freePort();
  process.argv.splice(1, process.argv.length, cli, "--port", String(port), "--config", config);
  installGcSignal();
  await import(cli);
  // Ready once the backend is connected; bounded, as mcp-hub retries a failing backend on its own.
  const deadline = Date.now() + 60_000;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      const body = await res.json() as { state?: string; servers?: Array<{ name: string; status: string }> };
      last = JSON.stringify({ state: body.state, servers: body.servers?.map((s) => [s.name, s.status]) });
      if (
        body.state === "ready" && body.servers?.some((s) => s.name === BACKEND && s.status === "connected")
      ) {
        console.log(`listening mcp-hub http://127.0.0.1:${port}/mcp`);
        return 0;
      }
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.error(`mcp-hub did not connect ${backend} within 60 s: ${last}`);
  return 1;
}

if (import.meta.main) {
  const code = await main(Deno.args);
  // On success mcp-hub keeps the process alive and ends it on SIGTERM itself.
  if (code !== 0) Deno.exit(code);
}
