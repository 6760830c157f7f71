/**
 * Runs a fixture MCP server as its own process for the gateway benchmark, like
 * `test/fixtures/serve.ts` but able to run a full GC on SIGUSR2 for memory figures:
 * `deno run -A bench/fixture_server.ts NAME [--port N]`. Prints `listening NAME URL` when ready.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isFixtureName, startFixture } from "../test/fixtures/mod.ts";
import { whileServing } from "./gc_signal.ts";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { port: { type: "string", default: "0" } },
  });
  const name = positionals[0];
  if (!name || !isFixtureName(name)) {
    console.error("Usage: deno run -A bench/fixture_server.ts NAME [--port N]");
    return 2;
  }
  const fixture = await startFixture(name, { port: Number(values.port) });
  const stopped = whileServing();
  console.log(`listening ${name} ${fixture.url}`);
  await stopped;
  await fixture.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
