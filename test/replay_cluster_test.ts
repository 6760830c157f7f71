/**
 * `simulate`, `tools` and `call` against a real cluster (test/cluster): fixture MCP servers run in
 * this process on loopback ports, test Pods forward to them, Services, HTTPRoutes and registrations
 * are applied with the plugin, and the replay reaches every server through real port-forwards. One
 * client session stays connected while registrations are added, changed, disabled and deleted, a
 * Pod is replaced and a backend drops; the reload latency is measured and printed.
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { stringify } from "yaml";
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { startCluster, type TestCluster, testPodManifest } from "./cluster/cluster.ts";
import { type RunningFixture, startFixture } from "./fixtures/mod.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";
import { KubeClient } from "../src/kube/client.ts";
import { clusterSource } from "../src/kube/replay.ts";
import { GATEWAY_NS, mcpExtension } from "./helpers/auth_objects.ts";

const NS = "mcp-replay";
const CLUSTER_CRDS = new URL("./cluster/bin/crds", import.meta.url).pathname;

function service(name: string, targetPort = 8080): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: NS },
    spec: { selector: { app: name }, ports: [{ name: "mcp", port: 80, targetPort }] },
  });
}

function pod(name: string, app: string, fixture: RunningFixture): string {
  return testPodManifest({ name, namespace: NS, labels: { app }, forward: { 8080: fixture.port } });
}

/** A registration as a user writes it, applied with `kubectl mcp apply -f`. */
function registration(name: string, spec: Record<string, unknown>): string {
  return stringify({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPServerRegistration",
    metadata: { name, namespace: NS },
    spec: { targetRef: { name: `${name}-route` }, ...spec },
  });
}

const EXTENSION = stringify(mcpExtension({
  backendPingIntervalSeconds: 10,
  maxBodyBytes: 20000,
  oauthProtectedResource: {
    authorizationServers: ["https://idp.example.com/realms/mcp"],
    scopesSupported: ["tools"],
  },
}, { namespace: GATEWAY_NS, name: "mcp-gateway" }));

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every 25 ms until it holds; returns the milliseconds it took. */
async function within(
  ms: number,
  what: string,
  check: () => Promise<boolean> | boolean,
  detail: () => string = () => "",
): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > ms) throw new Error(`${what}: not within ${ms} ms\n${detail()}`);
    await sleep(25);
  }
  return Math.round(performance.now() - started);
}

Deno.test({
  name: "simulate and tools replay a live cluster through port-forwards and follow its changes",
  // The simulator is a child process; fixtures and the cluster are closed in `finally`.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const cluster: TestCluster = await startCluster({ crds: false, extraCrds: [CLUSTER_CRDS] });
    const work = await Deno.makeTempDir({ prefix: "replay_cluster_test_" });
    const fixtures: RunningFixture[] = [];
    const fixture = async (name: "weather" | "github", port?: number) => {
      const started = await startFixture(name, { port });
      fixtures.push(started);
      return started;
    };
    const kubeconfig = ["--kubeconfig", cluster.adminKubeconfig];
    const cli = async (args: string[], stdin?: string) => await runCli([...args, ...kubeconfig], { stdin });
    const ok = async (args: string[], stdin?: string) => {
      const result = await cli(args, stdin);
      assertEquals(result.code, 0, `kubectl mcp ${args.join(" ")}:\n${result.stderr}${result.stdout}`);
      return result;
    };
    const register = (name: string, ...extra: string[]) =>
      ok([
        "register",
        name,
        "-n",
        NS,
        "--service",
        `${name}:80`,
        "--hostname",
        `${name}.mcp.local`,
        ...extra,
      ]);
    const kubectl = async (...args: string[]) => {
      const result = await cluster.kubectl(args);
      assertEquals(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    const latencies: Record<string, number> = {};
    try {
      await t.step("errors: an unreachable cluster, and a cluster without the CRDs", async () => {
        const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = (closed.addr as Deno.NetAddr).port;
        closed.close();
        const dead = `${work}/dead.kubeconfig`;
        await Deno.writeTextFile(
          dead,
          (await Deno.readTextFile(cluster.adminKubeconfig)).replaceAll(
            cluster.server,
            `https://127.0.0.1:${deadPort}`,
          ),
        );
        const [unreachable, noCrds, toolsNoCrds] = await Promise.all([
          runCli(["simulate", "-A", "--port", "0", "--kubeconfig", dead]),
          cli(["simulate", "-A", "--port", "0"]),
          cli(["tools", "-A"]),
        ]);
        assertEquals(unreachable.code, 1, unreachable.stdout);
        assertStringIncludes(
          unreachable.stderr,
          `the connection to the server https://127.0.0.1:${deadPort} was refused`,
        );
        for (const result of [noCrds, toolsNoCrds]) {
          assertEquals(result.code, 1, result.stdout);
          assertStringIncludes(result.stderr, "kubectl mcp crds install");
        }
        await ok(["crds", "install"]);
      });

      const weather = await fixture("weather");
      const github = await fixture("github");
      const forecast = await fixture("weather");

      await t.step("set up Pods, Services, an EndpointSlice, the extension and registrations", async () => {
        await kubectl("create", "namespace", NS);
        await kubectl("create", "namespace", GATEWAY_NS);
        await cluster.apply(
          [
            pod("weather-1", "weather", weather),
            pod("github-1", "github", github),
            service("weather"),
            service("github"),
            service("idle"),
            // The controller-manager runs no EndpointSlice controller here (Pod IPs are loopback,
            // which slices refuse): this one lists github-1 by name, as the controller would.
            JSON.stringify({
              apiVersion: "discovery.k8s.io/v1",
              kind: "EndpointSlice",
              metadata: {
                name: "github-abcde",
                namespace: NS,
                labels: { "kubernetes.io/service-name": "github" },
              },
              addressType: "IPv4",
              endpoints: [{
                addresses: ["10.0.0.7"],
                conditions: { ready: true },
                targetRef: { kind: "Pod", name: "github-1", namespace: NS },
              }],
              ports: [{ name: "mcp", port: 8080 }],
            }),
          ].join("\n"),
        );
        await kubectl(
          "wait",
          "--for=condition=Ready",
          "-n",
          NS,
          "pod/weather-1",
          "pod/github-1",
          "--timeout=60s",
        );
        await ok(
          ["apply", "-f", "-"],
          [EXTENSION, registration("nowhere", { prefix: "nowhere_" })].join("---\n"),
        );
        const [weatherApplied, githubApplied] = await Promise.all([
          register("weather"),
          register("github", "--prefix", "gh_"),
          register("idle"),
          ok([
            "virtual-server",
            "create",
            "triage",
            "-n",
            NS,
            "--tool",
            "gh_search",
            "--tool",
            "gh_get_issue",
          ]),
        ]);
        assertStringIncludes(weatherApplied.stdout, "httproute.gateway.networking.k8s.io/weather-route");
        assertStringIncludes(githubApplied.stdout, "mcpserverregistration.mcp.kuadrant.io/github");
      });

      await using sim = spawnCli(["simulate", ...kubeconfig, "-A", "--port", "0"]);
      const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);
      const output = () => `simulate stdout:\n${sim.stdout}\nstderr:\n${sim.stderr}`;

      await t.step("the start-up summary shows every server, its Pod, tools, state and reasons", () => {
        const row = (name: string) =>
          sim.stdout.split("\n").find((line) => line.startsWith(`${NS}/${name} `)) ?? "";
        assertEquals(sim.stdout.split("\n")[0].trim().split(/\s{2,}/), [
          "SERVER",
          "PREFIX",
          "TARGET",
          "POD",
          "TOOLS",
          "STATE",
        ]);
        assertEquals(row("weather").split(/\s+/), [
          `${NS}/weather`,
          "weather_",
          "svc/weather:80",
          "weather-1",
          "2",
          "ready",
        ]);
        assertEquals(row("github").split(/\s+/), [
          `${NS}/github`,
          "gh_",
          "svc/github:80",
          "github-1",
          "4",
          "ready",
        ]);
        assertMatch(row("idle"), /idle_\s+svc\/idle:80\s+<none>\s+0\s+Unresolved/);
        assertMatch(row("nowhere"), /nowhere_\s+mcp-replay\/nowhere-route\s+<none>\s+0\s+Unresolved/);
        assertStringIncludes(sim.stdout, `${NS}/idle: no ready pods found for Service ${NS}/idle`);
        assertStringIncludes(sim.stdout, `${NS}/nowhere: HTTPRoute ${NS}/nowhere-route not found`);
        assertStringIncludes(sim.stdout, "(4 servers, 6 tools)");
      });

      await t.step("the extension's settings apply: protected-resource metadata and max body", async () => {
        const metadata = await (await fetch(new URL("/.well-known/oauth-protected-resource", url))).json();
        assertEquals(metadata.authorization_servers, ["https://idp.example.com/realms/mcp"]);
        assertEquals(metadata.scopes_supported, ["tools"]);
        const big = await fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
          body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: { pad: "x".repeat(30000) } }),
        });
        await big.body?.cancel();
        assertEquals(big.status, 413);
      });

      const client = await connectGateway(url);
      let listChanged = 0;
      client.setNotificationHandler(ToolListChangedNotificationSchema, () => void listChanged++);
      const names = async () => (await listAllTools(client)).map((tool) => tool.name);
      /** Runs a change, then waits for list_changed and the tool list to satisfy `check`. */
      const change = async (
        label: string,
        run: () => Promise<unknown>,
        check: (tools: string[]) => boolean,
      ) => {
        const before = listChanged;
        await run();
        const started = performance.now();
        await within(2000, `${label}: list_changed`, () => listChanged > before, output);
        await within(2000, `${label}: tools/list`, async () => check(await names()), output);
        latencies[label] = Math.round(performance.now() - started);
      };
      try {
        await t.step("one session: a new registration is listed within 2 s, with list_changed", async () => {
          assertEquals((await names()).sort(), [
            "discover_tools",
            "gh_create_issue",
            "gh_delete_issue",
            "gh_get_issue",
            "gh_search",
            "select_tools",
            "weather_get_forecast",
            "weather_search",
          ]);
          await cluster.apply([pod("forecast-1", "forecast", forecast), service("forecast")].join("\n"));
          await kubectl("wait", "--for=condition=Ready", "-n", NS, "pod/forecast-1", "--timeout=60s");
          await change(
            "add",
            () => register("forecast", "--prefix", "fc_"),
            (tools) => tools.includes("fc_get_forecast"),
          );
          await sim.waitFor(/server mcp-replay\/forecast added \(ready, 2 tools\)/, 2000);
        });

        await t.step(
          "a prefix change (delete and recreate: prefix is immutable) swaps the tools",
          async () => {
            await change(
              "delete",
              () => ok(["delete", "server", "forecast", "-n", NS]),
              (tools) => !tools.some((name) => name.startsWith("fc_")),
            );
            await sim.waitFor(/server mcp-replay\/forecast removed/, 2000);
            await change(
              "recreate with a new prefix",
              () => ok(["apply", "-f", "-"], registration("forecast", { prefix: "fx_" })),
              (tools) => tools.includes("fx_get_forecast"),
            );
          },
        );

        await t.step("a Disabled registration leaves; explain says why", async () => {
          await change(
            "disable",
            () =>
              ok(["apply", "-f", "-"], registration("weather", { prefix: "weather_", state: "Disabled" })),
            (tools) => !tools.some((name) => name.startsWith("weather_")),
          );
          await sim.waitFor(/server mcp-replay\/weather changed \(Disabled, 0 tools/, 2000);
          const [disabled, unreachable] = await Promise.all([
            cli(["tools", "-A", "--explain", "weather_search", "-o", "json"]),
            cli(["tools", "-A", "--explain", "idle_anything", "-o", "json"]),
          ]);
          assertEquals(disabled.code, 0, disabled.stderr);
          const why = JSON.parse(disabled.stdout);
          assertEquals([why.listed, why.server, why.reasons[0].code], [
            false,
            `${NS}/weather`,
            "server-disabled",
          ]);
          assertEquals(unreachable.code, 0, unreachable.stderr);
          const reason = JSON.parse(unreachable.stdout).reasons[0];
          assertEquals(reason.code, "server-unreachable");
          assertStringIncludes(reason.message, `no ready pods found for Service ${NS}/idle`);
        });

        await t.step("a deleted registration leaves", async () => {
          await change(
            "delete again",
            () => ok(["delete", "server", "forecast", "-n", NS]),
            (tools) => !tools.some((name) => name.startsWith("fx_")),
          );
        });

        await t.step("a replaced Pod is re-resolved to its new backend", async () => {
          const github2 = await fixture("github");
          await kubectl("delete", "pod", "-n", NS, "github-1", "--wait=true");
          await sim.waitFor(/server mcp-replay\/github changed \(Unresolved, 0 tools: no ready pods/, 5000);
          await change(
            "pod replaced",
            () => cluster.apply(pod("github-1", "github", github2)),
            (tools) => tools.includes("gh_search"),
          );
          await sim.waitFor(/server mcp-replay\/github changed \(ready, 4 tools, pod github-1\)/, 2000);
          const before = github2.stats().rpcMethods["tools/call"] ?? 0;
          const result = await client.callTool({ name: "gh_search", arguments: { query: "mcp" } });
          assert(!result.isError, JSON.stringify(result));
          assertEquals(
            github2.stats().rpcMethods["tools/call"],
            before + 1,
            "the call reached the new Pod's server",
          );
        });

        await t.step("a dropped port-forward is reported and re-resolved with backoff", async () => {
          const backend = fixtures.at(-1)!;
          const mark = sim.stdout.length;
          const since = () => sim.stdout.slice(mark);
          await backend.close();
          const failed = await client.callTool({ name: "gh_search", arguments: { query: "down" } }).then(
            (result) => result.isError,
            () => true,
          );
          assert(failed, "a call to a stopped backend fails");
          // Each failed attempt doubles the wait before the next re-resolve.
          const delays = () =>
            [...since().matchAll(/github: port-forward to pod github-1 failed .*re-resolving in ([\d.]+)s/g)]
              .map((match) => Number(match[1]));
          // A port-forward fails when a connection is opened through it; the gateway's own retries
          // open them, and so does every call. Keep calling so a loaded machine cannot starve it.
          let lastPoke = 0;
          await within(15_000, "two failures reported", async () => {
            if (delays().length >= 2) return true;
            if (performance.now() - lastPoke > 1000) {
              lastPoke = performance.now();
              await client.callTool({ name: "gh_search", arguments: { query: "down" } }).catch(() => {});
            }
            return false;
          }, output);
          const [first, second] = delays();
          assertEquals(second, first * 2, `backoff doubles: ${delays()}`);
          await fixture("github", backend.port);
          const back = await within(
            10_000,
            "re-resolved and ready again",
            () =>
              /re-resolving in [\d.]+s[\s\S]*server mcp-replay\/github changed \(ready, 4 tools, pod github-1\)/
                .test(since()),
            output,
          );
          latencies["backend back -> ready"] = back;
          const result = await client.callTool({ name: "gh_search", arguments: { query: "back" } });
          assert(!result.isError, JSON.stringify(result));
        });

        await t.step(
          "the broker Deployment's flags apply: above the discovery threshold only meta-tools are listed",
          async () => {
            const broker = (flags: string[]) =>
              stringify({
                apiVersion: "apps/v1",
                kind: "Deployment",
                metadata: { name: "mcp-gateway", namespace: GATEWAY_NS },
                spec: {
                  replicas: 0,
                  selector: { matchLabels: { "app.kubernetes.io/name": "mcp-gateway" } },
                  template: {
                    metadata: { labels: { "app.kubernetes.io/name": "mcp-gateway" } },
                    spec: {
                      containers: [{
                        name: "mcp-gateway",
                        image: "ghcr.io/kuadrant/mcp-gateway:latest",
                        command: ["./mcp_gateway", "--mcp-gateway-config=/config/config.yaml", ...flags],
                      }],
                    },
                  },
                },
              });
            await change(
              "broker threshold",
              () => cluster.apply(broker(["--discovery-tool-threshold=2"])),
              (tools) => tools.length === 2 && tools.every((name) => name.endsWith("_tools")),
            );
            await sim.waitFor(
              /broker flags from Deployment gateway-system\/mcp-gateway: --discovery-tool-threshold=2/,
              2000,
            );
            const selected = await client.callTool({
              name: "select_tools",
              arguments: { tools: ["gh_search"] },
            });
            assert(!selected.isError, JSON.stringify(selected));
            assertEquals((await names()).sort(), ["discover_tools", "gh_search", "select_tools"]);
            await client.callTool({ name: "select_tools", arguments: { tools: [] } });
            await change(
              "broker gone",
              () => kubectl("delete", "deployment", "-n", GATEWAY_NS, "mcp-gateway", "--wait=true"),
              (tools) => tools.includes("gh_get_issue"),
            );
          },
        );

        await t.step("the session survived every reload", async () => {
          assert((await names()).includes("gh_get_issue"));
          assertEquals((await fetch(new URL("/status", url)).then((r) => r.json())).sessions, 1);
        });
      } finally {
        await client.close();
      }

      await t.step("tools --virtual-server, call, --overlay and --upstream against the cluster", async () => {
        const overlay = `${work}/overlay.yaml`;
        await Deno.writeTextFile(overlay, registration("weather", { prefix: "weather_" }));
        const [virtual, call, overlaid] = await Promise.all([
          cli(["tools", "-A", "--virtual-server", `${NS}/triage`, "-o", "name"]),
          cli(["call", "gh_get_issue", "--arg", "number=1", "-A", "-o", "json"]),
          cli([
            "tools",
            "-A",
            "-f",
            overlay,
            "--overlay",
            "--upstream",
            `${NS}/idle=${weather.url}`,
            "-o",
            "name",
          ]),
        ]);
        assertEquals(virtual.code, 0, virtual.stderr);
        assertEquals(virtual.stdout.trim().split("\n"), ["gh_get_issue", "gh_search"]);
        assertEquals(call.code, 0, call.stderr);
        assertEquals(JSON.parse(call.stdout).isError ?? false, false);
        assertEquals(overlaid.code, 0, overlaid.stderr);
        const listed = overlaid.stdout.trim().split("\n");
        for (const name of ["weather_search", "idle_search", "gh_search"]) {
          assert(listed.includes(name), name);
        }
      });

      await t.step("status churn triggers no refresh; a spec change does", async () => {
        using kube = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });
        let refreshes = 0;
        const stop = clusterSource(kube, { namespace: null }).watch!(() => void refreshes++);
        try {
          // Once every watch has listed, the source asks for one refresh (to catch what changed meanwhile).
          await within(10_000, "the watches synced", () => refreshes === 1);
          const condition = (reason: string) =>
            JSON.stringify({
              status: {
                conditions: [{
                  type: "Ready",
                  status: "True",
                  reason,
                  message: reason,
                  lastTransitionTime: new Date().toISOString(),
                }],
              },
            });
          for (const reason of ["Ready", "StillReady", "Ready"]) {
            await kubectl(
              "patch",
              "mcpsr",
              "github",
              "-n",
              NS,
              "--subresource=status",
              "--type=merge",
              "-p",
              condition(reason),
            );
          }
          await kubectl("annotate", "pod", "weather-1", "-n", NS, "example.com/heartbeat=1");
          await kubectl(
            "patch",
            "pod",
            "weather-1",
            "-n",
            NS,
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status":{"message":"churn"}}',
          );
          await sleep(500);
          assertEquals(refreshes, 1, "status and annotation churn triggered a refresh");
          await kubectl(
            "patch",
            "mcpsr",
            "github",
            "-n",
            NS,
            "--type=merge",
            "-p",
            '{"spec":{"hint":"GitHub issues"}}',
          );
          await within(2000, "a spec change triggers a refresh", () => refreshes === 2);
        } finally {
          stop();
        }
      });

      await t.step("Ctrl-C stops the simulator and its port-forwards", async () => {
        const started = performance.now();
        assertEquals(await sim.interrupt(), 130, sim.stderr);
        assertStringIncludes(sim.stdout, "Stopping.");
        assert(performance.now() - started < 5000, "stopping took over 5 s");
      });
      console.log(
        `reload latency (change applied -> list_changed and tools/list updated), ms: ${
          JSON.stringify(latencies)
        }`,
      );
    } finally {
      await Promise.all(fixtures.map((f) => f.close()));
      await cluster.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
