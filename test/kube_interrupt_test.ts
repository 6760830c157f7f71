/**
 * `get --watch` against the real API server (test/cluster): the open watch outlives
 * `--request-timeout` (which bounds only opening it), prints a change made after that, and one
 * Ctrl-C ends it within a second or two with exit code 130.
 */

import { assert, assertEquals } from "./helpers/assert.ts";
import { spawnCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";

Deno.test("get --watch outlives --request-timeout and stops on Ctrl-C with 130", async () => {
  const cluster = await sharedCluster();
  const ns = `watch-${crypto.randomUUID().slice(0, 8)}`;
  const created = await cluster.kubectl(["create", "namespace", ns]);
  assertEquals(created.code, 0, created.stderr);
  try {
    await using cli = spawnCli(["get", "servers", "--watch", "-n", ns, "--request-timeout=1s"], {
      env: { KUBECONFIG: cluster.adminKubeconfig },
    });
    for (const end = Date.now() + 30_000; !cli.stderr.includes("No resources found") && Date.now() < end;) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert(cli.stderr.includes("No resources found"), `no initial list:\n${cli.stderr}`);
    // Longer than --request-timeout: a watch bounded by it would have failed by now.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await cluster.apply(`apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata: {name: late, namespace: ${ns}}
spec:
  prefix: late_
  targetRef: {group: gateway.networking.k8s.io, kind: HTTPRoute, name: late-route}
`);
    await cli.waitFor(/^late\s/m, 15_000);
    const started = performance.now();
    const code = await cli.interrupt();
    const ms = Math.round(performance.now() - started);
    console.log(`get --watch on a cluster: exit ${code} ${ms} ms after Ctrl-C`);
    assertEquals(code, 130, cli.stderr);
    assert(ms < 3000, `took ${ms} ms to stop`);
    assert(!cli.stderr.includes("error"), cli.stderr);
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
