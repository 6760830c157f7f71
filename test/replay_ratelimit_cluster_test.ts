/**
 * RateLimitPolicies replayed from a real kube-apiserver (test/cluster, shared): `simulate` follows a
 * RateLimitPolicy on the MCPGatewayExtension's Gateway; a limit lowered in the cluster applies within
 * 2 s (the wasm-shim's 429 and body), each change is a line on the output, and deleting the policy
 * lets requests through again within 2 s.
 */

import { stringify } from "yaml";
import { assertEquals } from "./helpers/assert.ts";
import { spawnCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";

const initialize = () => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
  body: JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }),
});

/** Polls the gateway until it answers `status`; returns the milliseconds it took. */
async function statusWithin(url: string, status: number, ms: number): Promise<number> {
  const started = performance.now();
  let last = 0;
  while (performance.now() - started < ms) {
    const response = await fetch(url, initialize());
    await response.body?.cancel();
    last = response.status;
    if (last === status) return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the gateway did not answer ${status} within ${ms} ms (last ${last})`);
}

Deno.test({
  name: "simulate applies a RateLimitPolicy limit changed in the cluster within 2 s, and its deletion",
  // The simulator is a child process, stopped in the test.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const cluster = await sharedCluster();
    const ns = `rl-${crypto.randomUUID().slice(0, 8)}`;
    const kubectl = async (...args: string[]) => {
      const result = await cluster.kubectl(args);
      assertEquals(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    await kubectl("create", "namespace", ns);
    const policy = (limit: number) =>
      stringify({
        apiVersion: "kuadrant.io/v1",
        kind: "RateLimitPolicy",
        metadata: { name: "mcp-limits", namespace: ns },
        spec: {
          targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway" },
          limits: { everyone: { rates: [{ limit, window: "1m" }] } },
        },
      });
    await cluster.apply(stringify({
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPGatewayExtension",
      metadata: { name: "ext", namespace: ns },
      spec: {
        targetRef: {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "mcp-gateway",
          namespace: ns,
          sectionName: "mcp",
        },
      },
    }));
    const sim = spawnCli([
      "simulate",
      "--kubeconfig",
      cluster.adminKubeconfig,
      "-n",
      ns,
      "--gateway-extension",
      `${ns}/ext`,
      "--port",
      "0",
    ]);
    const latencies: Record<string, number> = {};
    try {
      const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);

      await t.step(
        "a generous limit created in the cluster is followed and lets requests through",
        async () => {
          await cluster.apply(policy(1000));
          await sim.waitFor(new RegExp(`ratelimitpolicy ${ns}/mcp-limits added \\(applies to broker`), 2000);
          await statusWithin(url, 200, 2000);
        },
      );

      await t.step("the limit lowered in the cluster applies within 2 s: 429 Too Many Requests", async () => {
        await cluster.apply(policy(1));
        latencies.change = await statusWithin(url, 429, 2000);
        const limited = await fetch(url, initialize());
        assertEquals(limited.status, 429);
        assertEquals(await limited.text(), "Too Many Requests\n");
        await sim.waitFor(new RegExp(`ratelimitpolicy ${ns}/mcp-limits changed \\(applies to broker`), 2000);
      });

      await t.step("deleting the policy lets requests through within 2 s", async () => {
        await kubectl("delete", "ratelimitpolicy", "-n", ns, "mcp-limits");
        latencies.delete = await statusWithin(url, 200, 2000);
        await sim.waitFor(new RegExp(`ratelimitpolicy ${ns}/mcp-limits removed`), 2000);
      });
      console.log(`RateLimitPolicy reload latencies (ms): ${JSON.stringify(latencies)}`);
      assertEquals(await sim.interrupt(), 130);
    } catch (error) {
      throw new Error(
        `${(error as Error).message}\nsimulate stdout:\n${sim.stdout}\nstderr:\n${sim.stderr}`,
        {
          cause: error,
        },
      );
    } finally {
      await sim[Symbol.asyncDispose]();
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});
