#!/usr/bin/env -S deno run -A
/**
 * `deno task demo`: the MCP gateway on a laptop with no cluster. Starts the example MCP servers
 * (the test fixtures) and the dev identity provider with the users of `examples/users/demo.yaml`,
 * replays `examples/*.yaml` against them with the simulator (authentication on:
 * `examples/auth-policy.yaml`, its issuer served by the dev identity provider), prints the servers,
 * the policy, and for each user how to get a token and the tools it sees, and serves until Ctrl-C.
 *
 * Flags: `--port N` (default 8080, 0 for any free port), `--address A` (default 127.0.0.1).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type FixtureName, type RunningFixture, startFixture } from "../test/fixtures/mod.ts";
import {
  fileSource,
  formatAuthSummary,
  formatServerSummary,
  type Replay,
  startReplay,
  staticResolver,
} from "../src/replay/mod.ts";
import { type DevIdp, readUsersFile, startDevIdp } from "../src/idp/mod.ts";
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

/** The demo's users: who logs in at the dev identity provider, with which roles. */
export const DEMO_USERS_FILE = `${EXAMPLES_DIR}users/demo.yaml`;

/** For each user: how to get its token, and the tools (and what else) it sees through the gateway. */
async function printUsers(replay: Replay, idp: DevIdp): Promise<void> {
  const status = await replay.status();
  const gatewayFlag = replay.url === "http://127.0.0.1:8080/mcp" ? "" : ` --gateway ${replay.url}`;
  for (const user of Object.keys(idp.users)) {
    const token = await idp.mint({ user, resource: replay.url });
    const client = await connectGateway(replay.url, { token });
    try {
      const tools = await listAllTools(client);
      console.log(`User ${user}: ${tools.length} tools`);
      console.log(`  token: kubectl mcp token --user ${user}${gatewayFlag}`);
      console.log(
        `  tools: kubectl mcp tools --gateway ${replay.url} --token "$(kubectl mcp token --user ${user}${gatewayFlag})"`,
      );
      console.log(
        formatToolTable(toolRows(tools, attributionServers(status))).replace(/^/gm, "    ").trimEnd(),
      );
      console.log("");
    } finally {
      await client.close();
    }
  }
}

/** Runs the demo until `signal` aborts; returns the exit code. */
export async function runDemo(
  options: { port: number; hostname: string; signal: AbortSignal },
): Promise<number> {
  const fixtures: RunningFixture[] = [];
  let idp: DevIdp | undefined;
  try {
    const upstreams: Record<string, string> = {};
    for (const server of EXAMPLE_SERVERS) {
      const fixture = await startFixture(server.fixture, { token: server.token });
      fixtures.push(fixture);
      upstreams[server.registration] = fixture.url;
    }
    idp = await startDevIdp({ users: await readUsersFile(DEMO_USERS_FILE) });
    const replay = await startReplay({
      source: fileSource([EXAMPLES_DIR]),
      resolver: staticResolver(upstreams),
      port: options.port,
      hostname: options.hostname,
      // The AuthPolicy's Keycloak issuer is served by the dev identity provider, as `simulate --dev-idp`.
      auth: { devIdp: { issuer: idp.issuer, jwksUri: idp.jwksUri } },
      onChange: (line) => console.log(line),
    });
    try {
      console.log(formatServerSummary(await replay.rows()));
      if (replay.auth) console.log(formatAuthSummary(replay.auth));
      console.log(`Dev identity provider ${idp.issuer}: users from examples/users/demo.yaml`);
      console.log("");
      await printUsers(replay, idp);
      const anonymous = await fetch(replay.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" }),
      });
      await anonymous.body?.cancel();
      console.log(
        `Without a token: HTTP ${anonymous.status}, WWW-Authenticate: ${
          anonymous.headers.get("www-authenticate")
        }`,
      );
      console.log(
        "  MCP clients (MCP Inspector, the SDK) follow it to the dev identity provider's login page and pick a user.",
      );
      console.log(`MCP gateway listening on ${replay.url}`);
      console.log(
        `  virtual servers: send the header X-Mcp-Virtualserver: mcp-demo/issue-triage (or mcp-demo/travel)`,
      );
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
    await Promise.all([...fixtures.map((fixture) => fixture.close()), idp?.close()]);
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
