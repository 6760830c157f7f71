/**
 * Ctrl-C and SIGTERM end every verb within a second or two, with exit code 130 or 143, whatever it
 * waits on: a silent API server, a silent gateway, a FIFO, a silent upstream, a serving simulator;
 * and every network wait has a bound (`--request-timeout`, also for exec credential plugins).
 * Each test drives the real binary against a real loopback listener that never answers.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { processRunning } from "./helpers/processes.ts";
import { startSilentServer } from "./fixtures/silent.ts";

/** Signal to exit: generous for a loaded machine, far below the 10 s after which the helper kills. */
const STOP_WITHIN_MS = 3000;

interface Kubeconfig {
  dir: string;
  path: string;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A kubeconfig for `server`, with a token, or with an exec plugin script when `plugin` is given. */
async function kubeconfig(server: string, plugin?: string): Promise<Kubeconfig> {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-interrupt-" });
  const user: Record<string, unknown> = plugin
    ? {
      exec: {
        apiVersion: "client.authentication.k8s.io/v1",
        command: `${dir}/plugin.sh`,
        interactiveMode: "Never",
      },
    }
    : { token: "t" };
  if (plugin) await Deno.writeTextFile(`${dir}/plugin.sh`, plugin, { mode: 0o755 });
  const path = `${dir}/config`;
  await Deno.writeTextFile(
    path,
    stringify({
      apiVersion: "v1",
      kind: "Config",
      "current-context": "silent",
      clusters: [{ name: "silent", cluster: { server } }],
      users: [{ name: "u", user }],
      contexts: [{ name: "silent", context: { cluster: "silent", user: "u", namespace: "default" } }],
    }),
  );
  return { dir, path, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** An exec plugin that records its pid, then waits forever. */
const SLEEPING_PLUGIN = `#!/bin/sh\necho $$ > "$(dirname "$0")/plugin.pid"\nexec sleep 600\n`;

/** Sends `signal` and returns the exit code and how long the program took to end. */
async function stop(
  cli: ReturnType<typeof spawnCli>,
  signal: Deno.Signal,
): Promise<{ code: number; ms: number }> {
  const started = performance.now();
  const code = await cli.interrupt(signal);
  return { code, ms: Math.round(performance.now() - started) };
}

function assertStopped(result: { code: number; ms: number }, code: number, what: string, stderr: string) {
  assertEquals(result.code, code, `${what}: exit code\n${stderr}`);
  assert(result.ms < STOP_WITHIN_MS, `${what}: took ${result.ms} ms to stop`);
  console.log(`${what}: exit ${result.code} ${result.ms} ms after the signal`);
}

Deno.test("Ctrl-C ends get waiting on a silent API server, even with --request-timeout=0", async () => {
  await using silent = startSilentServer();
  await using config = await kubeconfig(silent.url);
  await using cli = spawnCli(["get", "servers", "--kubeconfig", config.path, "--request-timeout=0"]);
  await silent.accepted();
  assertStopped(await stop(cli, "SIGINT"), 130, "get (SIGINT)", cli.stderr);
  // kubectl prints nothing when interrupted.
  assertEquals(cli.stderr, "");
});

Deno.test("SIGTERM ends get --watch waiting on a silent API server with 143", async () => {
  await using silent = startSilentServer();
  await using config = await kubeconfig(silent.url);
  await using cli = spawnCli(["get", "servers", "--watch", "--kubeconfig", config.path]);
  await silent.accepted();
  assertStopped(await stop(cli, "SIGTERM"), 143, "get --watch (SIGTERM)", cli.stderr);
});

Deno.test("Ctrl-C ends tools and call waiting on a silent gateway", async () => {
  await using silent = startSilentServer();
  {
    await using cli = spawnCli(["tools", "--gateway", `${silent.url}/mcp`]);
    await silent.accepted();
    assertStopped(await stop(cli, "SIGINT"), 130, "tools --gateway (SIGINT)", cli.stderr);
  }
  const before = silent.connections;
  await using cli = spawnCli(["call", "any_tool", "--gateway", `${silent.url}/mcp`]);
  const deadline = Date.now() + 30_000;
  while (silent.connections === before && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert(silent.connections > before, "call never connected to the gateway");
  assertStopped(await stop(cli, "SIGTERM"), 143, "call --gateway (SIGTERM)", cli.stderr);
});

Deno.test("Ctrl-C ends validate -R blocked reading a FIFO", async () => {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-fifo-" });
  let writer: Deno.FsFile | undefined;
  try {
    await Deno.mkdir(`${dir}/sub`);
    const fifo = `${dir}/sub/pipe.yaml`;
    const mkfifo = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert(mkfifo.success, "mkfifo failed");
    await using cli = spawnCli(["validate", "-f", dir, "-R"]);
    // Opening the write end returns once validate has opened the read end; nothing is ever
    // written and the write end stays open, so validate waits for data that never comes.
    let timer: ReturnType<typeof setTimeout> | undefined;
    writer = await Promise.race([
      Deno.open(fifo, { write: true }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("validate never opened the FIFO")), 30_000);
      }),
    ]).finally(() => clearTimeout(timer));
    assertStopped(await stop(cli, "SIGINT"), 130, "validate FIFO (SIGINT)", cli.stderr);
  } finally {
    writer?.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("simulate stops on SIGTERM while serving, and on Ctrl-C while a silent upstream hangs", async () => {
  await using silent = startSilentServer();
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-sim-signal-" });
  try {
    const registration = (name: string, spec: Record<string, unknown>) => ({
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPServerRegistration",
      metadata: { name, namespace: "mcp-test" },
      spec: {
        targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: `${name}-route` },
        ...spec,
      },
    });
    await Deno.writeTextFile(
      `${dir}/paused.yaml`,
      stringify(registration("paused", { prefix: "p_", state: "Disabled" })),
    );
    {
      await using sim = spawnCli(["simulate", "-f", `${dir}/paused.yaml`, "--port", "0"]);
      await sim.waitFor(/listening on/);
      assertStopped(await stop(sim, "SIGTERM"), 143, "simulate serving (SIGTERM)", sim.stderr);
      assertStringIncludes(sim.stdout, "Stopping.");
    }
    await Deno.writeTextFile(`${dir}/hung.yaml`, stringify(registration("hung", { prefix: "h_" })));
    await using sim = spawnCli([
      "simulate",
      "-f",
      `${dir}/hung.yaml`,
      "--port",
      "0",
      "--upstream",
      `mcp-test/hung=${silent.url}/mcp`,
    ]);
    await silent.accepted();
    assertStopped(await stop(sim, "SIGINT"), 130, "simulate, silent upstream (SIGINT)", sim.stderr);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an exec credential plugin that never answers is killed on Ctrl-C", async () => {
  await using silent = startSilentServer();
  await using config = await kubeconfig(silent.url, SLEEPING_PLUGIN);
  await using cli = spawnCli(["get", "servers", "--kubeconfig", config.path, "--request-timeout=0"]);
  const pidFile = `${config.dir}/plugin.pid`;
  let pid = 0;
  for (const end = Date.now() + 30_000; !pid && Date.now() < end;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    pid = Number(await Deno.readTextFile(pidFile).catch(() => "0")) || 0;
  }
  assert(pid > 0, "the plugin never ran");
  assertStopped(await stop(cli, "SIGINT"), 130, "get, exec plugin (SIGINT)", cli.stderr);
  for (const end = Date.now() + 2000; processRunning(pid) && Date.now() < end;) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert(!processRunning(pid), `the plugin (pid ${pid}) outlived the program`);
});

Deno.test("--request-timeout bounds an exec credential plugin, naming the plugin", async () => {
  await using silent = startSilentServer();
  await using config = await kubeconfig(silent.url, SLEEPING_PLUGIN);
  const started = performance.now();
  const result = await runCli(["get", "servers", "--kubeconfig", config.path, "--request-timeout=1s"], {
    timeoutMs: 15_000,
  });
  const ms = Math.round(performance.now() - started);
  console.log(`exec plugin bound: exit ${result.code} after ${ms} ms`);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, `${config.dir}/plugin.sh`);
  assertStringIncludes(result.stderr, "1s");
  const pid = Number(await Deno.readTextFile(`${config.dir}/plugin.pid`));
  assert(!processRunning(pid), `the plugin (pid ${pid}) outlived its timeout`);
});

Deno.test("--request-timeout bounds a silent API server, naming its URL", async () => {
  await using silent = startSilentServer();
  await using config = await kubeconfig(silent.url);
  const result = await runCli(["get", "servers", "--kubeconfig", config.path, "--request-timeout=1s"], {
    timeoutMs: 15_000,
  });
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, silent.url);
  assertStringIncludes(result.stderr, "timed out after 1s");
});

Deno.test("--help states the default request timeout", async () => {
  const result = await runCli(["get", "--help"]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, "--request-timeout='30s'");
});
