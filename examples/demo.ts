#!/usr/bin/env -S deno run -A
/**
 * `deno task demo`: the MCP gateway on a laptop with no cluster. Starts the example MCP servers
 * (the test fixtures), replays `examples/*.yaml` against them with the simulator, prints the servers
 * and the federated tools, and serves until Ctrl-C.
 *
 * Flags: `--port N` (default 8080, 0 for any free port), `--address A` (default 127.0.0.1).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type FixtureName, type RunningFixture, startFixture } from "../test/fixtures/mod.ts";
import { fileSource, formatServerSummary, startReplay, staticResolver } from "../src/replay/mod.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";
import { attributionServers, formatToolTable, toolRows } from "../src/tools/mod.ts";
import { formatError } from "../src/errors.ts";
import { waitForAbort } from "../src/cli/io.ts";

/** Which fixture plays each example registration, and the credential it expects. */
const EXAMPLE_SERVERS: { registration: string; fixture: FixtureName; token?: string }[] = [
  { registration: "mcp-demo/weather", fixture: "weather" },
  { registration: "mcp-demo/github", fixture: "github" },
  // examples/internal-api.yaml's Secret holds "Bearer demo-internal-token".
  { registration: "mcp-demo/internal-api", fixture: "auth", token: "demo-internal-token" },
  { registration: "mcp-demo/jobs", fixture: "slow" },
  { registration: "mcp-demo/booking", fixture: "elicit" },
];

const EXAMPLES_DIR = new URL(".", import.meta.url).pathname;

/** Runs the demo until `signal` aborts; returns the exit code. */
export async function runDemo(
  options: { port: number; hostname: string; signal: AbortSignal },
): Promise<number> {
  const fixtures: RunningFixture[] = [];
  try {
    const upstreams: Record<string, string> = {};
    for (const server of EXAMPLE_SERVERS) {
      const fixture = await startFixture(server.fixture, { token: server.token });
      fixtures.push(fixture);
      upstreams[server.registration] = fixture.url;
    }
    const replay = await startReplay({
      source: fileSource([EXAMPLES_DIR]),
      resolver: staticResolver(upstreams),
      port: options.port,
      hostname: options.hostname,
      onChange: (line) => console.log(line),
    });
    try {
      console.log(formatServerSummary(await replay.rows()));
      const status = await replay.status();
      const client = await connectGateway(replay.url);
      try {
        console.log(formatToolTable(toolRows(await listAllTools(client), attributionServers(status))));
      } finally {
        await client.close();
      }
      console.log(`MCP gateway listening on ${replay.url}`);
      console.log(
        `  virtual servers: send the header X-Mcp-Virtualserver: mcp-demo/issue-triage (or mcp-demo/travel)`,
      );
      console.log(`  try: kubectl mcp tools --gateway ${replay.url} -o wide`);
      console.log(`Edit examples/*.yaml and the gateway reloads. Ctrl-C to stop.`);
      await waitForAbort(options.signal);
      console.log("Stopping.");
    } finally {
      await replay.close();
    }
    return 0;
  } catch (error) {
    console.error(formatError(error));
    if (error instanceof Deno.errors.AddrInUse) {
      console.error(`Port ${options.port} is in use: run with --port N.`);
    }
    return 1;
  } finally {
    await Promise.all(fixtures.map((fixture) => fixture.close()));
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { port: { type: "string", default: "8080" }, address: { type: "string", default: "127.0.0.1" } },
  });
  const abort = new AbortController();
  const stop = () => abort.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const code = await runDemo({ port: Number(values.port), hostname: values.address!, signal: abort.signal });
  Deno.exit(code);
}
