/**
 * Runs the simulator gateway as its own process for the gateway benchmark:
 * `deno run -A bench/gateway_server.ts --config JSON [--port N] [--sim PATH/mod.ts]`, where JSON is a
 * `GatewayConfigInput` and `--sim` loads another copy of the simulator (default `sim/mod.ts`).
 * Prints `listening gateway URL` once every upstream had its first connection attempt, exits 0 on
 * SIGTERM or SIGINT, and runs a full GC on SIGUSR2 (see `gc_signal.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { GatewayConfigInput } from "../sim/mod.ts";
import { installGcSignal, untilStopped } from "./gc_signal.ts";

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string" },
      port: { type: "string", default: "0" },
      // Another copy of sim/mod.ts (e.g. the last commit's, exported to a temporary directory) to
      // compare a change against the working tree's.
      sim: { type: "string" },
    },
  });
  if (!values.config) {
    console.error("Usage: deno run -A bench/gateway_server.ts --config JSON [--port N] [--sim PATH/mod.ts]");
    return 2;
  }
  const sim: typeof import("../sim/mod.ts") = values.sim
    ? await import(new URL(values.sim, `file://${Deno.cwd()}/`).href)
    : await import("../sim/mod.ts");
  const config = sim.normalizeConfig(JSON.parse(values.config) as GatewayConfigInput);
  const gateway = await sim.startGateway(config, { port: Number(values.port) });
  const removeGc = installGcSignal();
  const stopped = untilStopped();
  const status = await gateway.status();
  const unhealthy = status.servers.filter((s) => s.enabled && s.state !== "ready");
  if (unhealthy.length) {
    console.error(`Servers not ready: ${unhealthy.map((s) => `${s.name} (${s.lastError})`).join(", ")}`);
  }
  console.log(`listening gateway ${gateway.url}`);
  await stopped;
  removeGc();
  await gateway.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
