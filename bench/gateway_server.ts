/**
 * Runs the simulator gateway as its own process for the gateway benchmarks:
 * `deno run -A bench/gateway_server.ts --config JSON [--auth JSON] [--rate-limit JSON] [--store URL]
 * [--port N] [--sim PATH/mod.ts]`, where `--config` is a `GatewayConfigInput`, `--store` a Redis URL for
 * the session store (default: memory), `--auth` is `{"objects": [...]}`: AuthPolicies with the objects
 * their targets need (the MCPGatewayExtension, the Gateway, the servers' HTTPRoutes and
 * MCPServerRegistrations), evaluated by the simulator's AuthPolicy gate as the replay builds it;
 * `--rate-limit` the same for RateLimitPolicies (the RateLimitGate, memory counters). SIGUSR1 switches the
 * policies off and on, printing `policies off` or `policies on`; `--sim` loads another copy of the
 * simulator (default `sim/mod.ts`, its `auth/` and `ratelimit/` beside it).
 * Prints `listening gateway URL` once every upstream had its first connection attempt, exits 0 on
 * SIGTERM or SIGINT, and runs a full GC on SIGUSR2 (see `gc_signal.ts`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { GatewayConfigInput, RequestPolicy } from "../sim/mod.ts";
import { whileServing } from "./gc_signal.ts";

/** What `--auth` and `--rate-limit` hold. */
interface PolicyInput {
  /** The policies and the objects that give them targets; other objects are ignored. */
  objects: unknown[];
}

/** The AuthPolicy gate over `input`, from the simulator copy whose `mod.ts` is `simUrl`. */
async function authGate(
  input: PolicyInput,
  simUrl: URL,
): Promise<RequestPolicy & { close(): Promise<void> }> {
  const gateMod: typeof import("../sim/auth/gate.ts") = await import(new URL("./auth/gate.ts", simUrl).href);
  const policyMod: typeof import("../sim/auth/auth_policy.ts") = await import(
    new URL("./auth/auth_policy.ts", simUrl).href
  );
  const jwksMod: typeof import("../sim/auth/jwks.ts") = await import(new URL("./auth/jwks.ts", simUrl).href);
  const gate = new gateMod.AuthPolicyGate({
    policies: input.objects,
    targets: policyMod.policyTargetsFromObjects(input.objects),
    // As the replay: one key cache for the gateway, rules the simulator cannot evaluate deny.
    context: { secrets: { list: () => [] }, jwks: new jwksMod.JwksCache(), unsupportedRules: "deny" },
    log: (level, msg) => {
      if (level === "warn" || level === "error") console.error(`${level}: ${msg}`);
    },
  });
  const { problems, unsupported } = gate.summary;
  if (problems.length || unsupported.length) {
    throw new Error(
      `The AuthPolicies do not apply as given: ${
        JSON.stringify({ problems: problems.map((p) => p.message), unsupported })
      }`,
    );
  }
  return gate;
}

/** The RateLimitGate over `input` (memory counters), and a switch that empties and refills its policies. */
async function rateLimitGate(input: PolicyInput, simUrl: URL) {
  const gateMod: typeof import("../sim/ratelimit/gate.ts") = await import(
    new URL("./ratelimit/gate.ts", simUrl).href
  );
  const policyMod: typeof import("../sim/auth/auth_policy.ts") = await import(
    new URL("./auth/auth_policy.ts", simUrl).href
  );
  const targets = policyMod.policyTargetsFromObjects(input.objects);
  const gate = new gateMod.RateLimitGate({ policies: input.objects, targets });
  const { problems, where } = gate.summary;
  if (problems.length || !Object.keys(where).length) {
    throw new Error(
      `The RateLimitPolicies do not apply as given: ${
        JSON.stringify({ problems: problems.map((p) => p.message) })
      }`,
    );
  }
  return {
    gate,
    enable: (on: boolean) => gate.update({ policies: on ? input.objects : [], targets }),
  };
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string" },
      auth: { type: "string" },
      "rate-limit": { type: "string" },
      store: { type: "string" },
      port: { type: "string", default: "0" },
      // Another copy of sim/mod.ts (e.g. the last commit's, exported to a temporary directory) to
      // compare a change against the working tree's.
      sim: { type: "string" },
    },
  });
  if (!values.config) {
    console.error(
      "Usage: deno run -A bench/gateway_server.ts --config JSON [--auth JSON] [--rate-limit JSON] " +
        "[--store URL] [--port N] [--sim PATH/mod.ts]",
    );
    return 2;
  }
  const simUrl = values.sim
    ? new URL(values.sim, `file://${Deno.cwd()}/`)
    : new URL("../sim/mod.ts", import.meta.url);
  const sim: typeof import("../sim/mod.ts") = await import(simUrl.href);
  const config = sim.normalizeConfig(JSON.parse(values.config) as GatewayConfigInput);
  const gate = values.auth ? await authGate(JSON.parse(values.auth) as PolicyInput, simUrl) : undefined;
  const limits = values["rate-limit"]
    ? await rateLimitGate(JSON.parse(values["rate-limit"]) as PolicyInput, simUrl)
    : undefined;
  // SIGUSR1 switches the policies off (every request allowed, as without --auth) and on again, so
  // one process measures both: no second process's own speed in the difference.
  let enabled = true;
  const policy: RequestPolicy | undefined = gate && {
    evaluate: (input) => enabled ? gate.evaluate(input) : { allow: true },
    evaluateRequest: (input) => enabled ? gate.evaluateRequest?.(input) ?? { allow: true } : { allow: true },
  };
  const toggle = () => {
    enabled = !enabled;
    limits?.enable(enabled);
    console.log(`policies ${enabled ? "on" : "off"}`);
  };
  const switchable = gate || limits;
  if (switchable) Deno.addSignalListener("SIGUSR1", toggle);
  const store = values.store ? await sim.RedisSessionStore.connect(values.store) : undefined;
  const gateway = await sim.startGateway(config, {
    port: Number(values.port),
    ...(policy ? { policy } : {}),
    ...(limits ? { rateLimit: limits.gate } : {}),
    ...(store ? { store } : {}),
  });
  const stopped = whileServing();
  const status = await gateway.status();
  const unhealthy = status.servers.filter((s) => s.enabled && s.state !== "ready");
  if (unhealthy.length) {
    console.error(`Servers not ready: ${unhealthy.map((s) => `${s.name} (${s.lastError})`).join(", ")}`);
  }
  console.log(`listening gateway ${gateway.url}`);
  await stopped;
  if (switchable) Deno.removeSignalListener("SIGUSR1", toggle);
  await gateway.close();
  await gate?.close();
  await store?.close();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
