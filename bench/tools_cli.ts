/**
 * `tools -A` suite: `kubectl mcp tools -A` against the test cluster with 20 registrations, each
 * reached through its own port-forward, against what the 20 servers themselves take to answer
 * `initialize` + `tools/list` when a client asks all of them in parallel, directly (one fresh
 * session each, in this process). Interleaved in one run.
 *
 * @module
 */

import { stringify } from "yaml";
import { runCommandLine } from "../src/cli/mod.ts";
import { captureIo } from "../src/cli/io.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";
import { KubeClient } from "../src/kube/client.ts";
import { openPortForward, resolveServiceToPod } from "../src/kube/portforward.ts";
import { startCluster, type TestCluster, testPodManifest } from "../test/cluster/cluster.ts";
import { GATEWAY_NS, mcpExtension } from "../test/helpers/auth_objects.ts";
import {
  DENO,
  ms,
  ratio,
  runCommand,
  type Server,
  startServer,
  stats,
  type SuiteContext,
  type SuiteResult,
  targetsTable,
} from "./lib.ts";

/** Registrations in the suite. */
export const SERVERS = 20;
const NS = "mcp-bench";
/** The fixture servers, alternating. */
export const FIXTURES = ["weather", "github"] as const;

/** `initialize` + `tools/list` of every server at once, each on a new session; returns the wall ms. */
async function directParallel(urls: readonly string[]): Promise<{ ms: number; tools: number }> {
  const t0 = performance.now();
  const counts = await Promise.all(urls.map(async (url) => {
    const client = await connectGateway(url);
    try {
      return (await listAllTools(client)).length;
    } finally {
      await client.close();
    }
  }));
  return { ms: performance.now() - t0, tools: counts.reduce((a, b) => a + b, 0) };
}

/**
 * The port-forward floor: the same `initialize` + `tools/list` of every server at once, each through
 * a port-forward opened for it here (Service resolved to its Pod, then the API server's WebSocket to
 * the kubelet), as `tools -A` must reach them. No replay, no gateway: what reaching the servers
 * through the cluster costs by itself, warm, in this process.
 */
async function throughPortForwards(
  kubeconfig: string,
  services: readonly string[],
): Promise<{ ms: number; tools: number }> {
  const t0 = performance.now();
  const client = KubeClient.fromOptions({ kubeconfig });
  const counts = await Promise.all(services.map(async (service) => {
    const target = await resolveServiceToPod(client, NS, service, 80);
    // As the replay does: the Pod was just seen Running in the list that resolved it.
    await using forward = await openPortForward(client, {
      namespace: NS,
      pod: target.pod,
      port: target.port,
      podRunning: true,
    });
    const mcp = await connectGateway(`http://127.0.0.1:${forward.localPort}/mcp`);
    try {
      return (await listAllTools(mcp)).length;
    } finally {
      await mcp.close();
    }
  }));
  return { ms: performance.now() - t0, tools: counts.reduce((a, b) => a + b, 0) };
}

/**
 * The same `tools -A` run in this process, where the verb's modules were loaded and its code run
 * before: what the verb costs without a process start-up, module loading and cold code.
 */
async function warmInProcess(args: string[]): Promise<{ ms: number; tools: number }> {
  const io = captureIo({ env: Deno.env.toObject() });
  const t0 = performance.now();
  const code = await runCommandLine(args, io);
  const ms = performance.now() - t0;
  if (code !== 0) throw new Error(`tools -A in process exited ${code}: ${io.stderr.trim()}`);
  return { ms, tools: io.stdout.split("\n").filter((line) => /^s\d+_/.test(line)).length };
}

/**
 * Creates the namespaces, a Pod and a Service per fixture port, the extension and the registrations;
 * returns kubectl's kubeconfig flags.
 */
export async function setUp(cluster: TestCluster, ports: number[], tmp: string): Promise<string[]> {
  const kubeconfig = ["--kubeconfig", cluster.adminKubeconfig];
  for (const ns of [NS, GATEWAY_NS]) {
    const r = await cluster.kubectl(["create", "namespace", ns]);
    if (r.code !== 0) throw new Error(`kubectl create namespace ${ns}: ${r.stderr}`);
  }
  const names = ports.map((_, i) => `srv-${String(i).padStart(2, "0")}`);
  await cluster.apply(
    names.flatMap((name, i) => [
      testPodManifest({
        name: `${name}-1`,
        namespace: NS,
        labels: { app: name },
        forward: { 8080: ports[i] },
      }),
      JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name, namespace: NS },
        spec: { selector: { app: name }, ports: [{ name: "mcp", port: 80, targetPort: 8080 }] },
      }),
    ]).join("\n"),
  );
  const wait = await cluster.kubectl([
    "wait",
    "--for=condition=Ready",
    "-n",
    NS,
    ...names.map((name) => `pod/${name}-1`),
    "--timeout=120s",
  ]);
  if (wait.code !== 0) throw new Error(`kubectl wait: ${wait.stderr}`);
  const extension = `${tmp}/tools-cli-extension.yaml`;
  await Deno.writeTextFile(
    extension,
    stringify(mcpExtension({}, { namespace: GATEWAY_NS, name: "mcp-gateway" })),
  );
  const applied = await runCommand(DENO, ["run", "-A", "main.ts", "apply", "-f", extension, ...kubeconfig], {
    timeoutMs: 120_000,
  });
  if (applied.code !== 0) throw new Error(`kubectl mcp apply: ${applied.stderr}`);
  // Registrations as users make them, a few CLI processes at a time (2 cores).
  for (let i = 0; i < names.length; i += 4) {
    await Promise.all(
      names.slice(i, i + 4).map(async (name, k) => {
        const r = await runCommand(DENO, [
          "run",
          "-A",
          "main.ts",
          "register",
          name,
          "-n",
          NS,
          "--service",
          `${name}:80`,
          "--hostname",
          `${name}.mcp.local`,
          "--prefix",
          `s${i + k}_`,
          ...kubeconfig,
        ], { timeoutMs: 120_000 });
        if (r.code !== 0) throw new Error(`kubectl mcp register ${name}: ${r.stderr}`);
      }),
    );
  }
  return kubeconfig;
}

/** Runs the `tools -A` suite. */
export async function toolsCliSuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const runs = ctx.quick ? 3 : 9;
  const notes = result.notes;
  const servers: Server[] = [];
  let cluster: TestCluster | undefined;
  try {
    const started = await Promise.all(
      Array.from(
        { length: SERVERS },
        (_, i) => startServer(`fixture-${i}`, "bench/fixture_server.ts", [FIXTURES[i % FIXTURES.length]]),
      ),
    );
    for (const s of started) servers.push(s.server);
    const urls = started.map((s) => s.url);
    const ports = urls.map((url) => Number(new URL(url).port));
    cluster = await startCluster({ controllerManager: true });
    const kubeconfig = await setUp(cluster, ports, ctx.tmp);

    const cliMs: number[] = [];
    const warmMs: number[] = [];
    const directMs: number[] = [];
    const forwardMs: number[] = [];
    const emptyMs: number[] = [];
    const services = ports.map((_, i) => `srv-${String(i).padStart(2, "0")}`);
    const emptyFile = `${ctx.tmp}/empty.ts`;
    await Deno.writeTextFile(emptyFile, "");
    let cliTools = 0;
    let directTools = 0;
    let lastCli = "";
    // Interleaved: one CLI run, then one direct round, after one warm-up of each.
    for (let round = -1; round < runs; round++) {
      const cli = await runCommand(
        DENO,
        ["run", "-A", "main.ts", "tools", "-A", "-o", "name", ...kubeconfig],
        {
          captureStdout: true,
          timeoutMs: 120_000,
        },
      );
      if (cli.code !== 0) throw new Error(`kubectl mcp tools -A exited ${cli.code}: ${cli.stderr.trim()}`);
      cliTools = cli.stdout.split("\n").filter((line) => /^s\d+_/.test(line)).length;
      lastCli = cli.stdout;
      const warm = await warmInProcess(["tools", "-A", "-o", "name", ...kubeconfig]);
      if (warm.tools !== cliTools) {
        throw new Error(`tools -A in process listed ${warm.tools}, the CLI ${cliTools}`);
      }
      const direct = await directParallel(urls);
      directTools = direct.tools;
      const forward = await throughPortForwards(kubeconfig[1], services);
      if (forward.tools !== direct.tools) {
        throw new Error(`through port-forwards ${forward.tools} tools, directly ${direct.tools}`);
      }
      const empty = await runCommand(DENO, ["run", "-A", emptyFile], { timeoutMs: 60_000 });
      if (round >= 0) {
        cliMs.push(cli.ms);
        warmMs.push(warm.ms);
        directMs.push(direct.ms);
        forwardMs.push(forward.ms);
        emptyMs.push(empty.ms);
      }
    }
    if (cliTools !== directTools) {
      throw new Error(`tools -A listed ${cliTools} tools, the servers ${directTools}:\n${lastCli}`);
    }
    const cli = stats(cliMs);
    const warm = stats(warmMs);
    const direct = stats(directMs);
    const forward = stats(forwardMs);
    const empty = stats(emptyMs);
    // What no client of the cluster can avoid: a process, and reaching the servers through port-forwards.
    const floor = empty.median + forward.median;
    result.tables.push({
      title:
        `tools -A with ${SERVERS} registrations (port-forward each), wall time of ${runs} runs, interleaved`,
      columns: ["what", "median", "p90", "min", "max", "tools", "median / direct"],
      rows: [
        [
          "kubectl mcp tools -A -o name (new process, port-forwards)",
          ms(cli.median),
          ms(cli.p90),
          ms(cli.min),
          ms(cli.max),
          String(cliTools),
          ratio(cli.median / direct.median),
        ],
        [
          "the same verb run again in this process (modules loaded, code warm; port-forwards opened anew)",
          ms(warm.median),
          ms(warm.p90),
          ms(warm.min),
          ms(warm.max),
          String(cliTools),
          ratio(warm.median / direct.median),
        ],
        [
          `initialize + tools/list of the ${SERVERS} servers in parallel, directly (in process)`,
          ms(direct.median),
          ms(direct.p90),
          ms(direct.min),
          ms(direct.max),
          String(directTools),
          "1.00x",
        ],
        [
          `the same through ${SERVERS} port-forwards opened in process (Service to Pod, API server, kubelet), warm`,
          ms(forward.median),
          ms(forward.p90),
          ms(forward.min),
          ms(forward.max),
          String(directTools),
          ratio(forward.median / direct.median),
        ],
        [
          "deno run of an empty file (process start-up)",
          ms(empty.median),
          ms(empty.p90),
          ms(empty.min),
          ms(empty.max),
          "-",
          ratio(empty.median / direct.median),
        ],
      ],
    });
    result.tables.push({
      title: "Side by side",
      columns: ["comparison", "ratio of medians"],
      rows: [
        ["tools -A / direct (the target's ratio)", ratio(cli.median / direct.median)],
        [
          "port-forward floor / direct (reaching the servers through the cluster, nothing else)",
          ratio(forward.median / direct.median),
        ],
        [
          "(process start-up + port-forward floor) / direct: the least any CLI can reach",
          ratio(floor / direct.median),
        ],
        ["tools -A / (process start-up + port-forward floor): what is ours", ratio(cli.median / floor)],
        [
          "tools -A warm in process / port-forward floor: what is ours once loaded",
          ratio(warm.median / forward.median),
        ],
      ],
    });
    result.tables.push(targetsTable("issue #15", [
      [
        `\`kubectl mcp tools -A\` with ${SERVERS} port-forwarded registrations / their initialize + tools/list ` +
        "in parallel, directly: <= 1.5x",
        `${ratio(cli.median / direct.median)} (no CLI can go below ${ratio(floor / direct.median)}: ` +
        `start-up + port-forward floor)`,
        cli.median / direct.median <= 1.5,
      ],
    ]));
    notes.push(
      `${SERVERS} fixture servers (${FIXTURES.join(", ")}), each its own process; each has a test Pod ` +
        "whose port-forward reaches it, a Service and a registration made with `kubectl mcp register`.",
      "The CLI row includes the process start-up and module loading of `tools`; the direct row is " +
        "warm (its code is loaded in this process) and opens a new session per server each round.",
      `The port-forward floor is the target's missing term: the 1.5x target compares with servers reached ` +
        `directly, but \`tools -A\` must reach them through the cluster. Warm and with nothing else to do, ` +
        `that path alone took ${
          ratio(forward.median / direct.median)
        } the direct time, and a new process adds ` +
        `${ms(empty.median)}, so no CLI can reach ${ratio(1.5)} here; the closest reachable is ` +
        `${ratio(floor / direct.median)}. What remains ours (module loading, the cluster read, the replay, ` +
        `the gateway hop) is tools -A / that sum.`,
      `Run again in a process that has loaded and run it before, the verb took ${ms(warm.median)} against ` +
        `the port-forward floor's ${ms(forward.median)}: of the new process's ${ms(cli.median)}, ` +
        `${ms(Math.max(0, cli.median - warm.median - empty.median))} beyond Deno's own start-up is loading ` +
        "the verb's modules and running its code cold.",
    );
    result.data = {
      servers: SERVERS,
      runs,
      cli,
      warm,
      direct,
      forward,
      empty,
      cliSamples: cliMs,
      warmSamples: warmMs,
      directSamples: directMs,
      forwardSamples: forwardMs,
      emptySamples: emptyMs,
    };
  } finally {
    await cluster?.stop();
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}
