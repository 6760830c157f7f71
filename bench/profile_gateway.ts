/**
 * Where the gateway's time goes: runs the fixture and the gateway as in the gateway suite, the
 * gateway under the V8 inspector, drives `concurrency` sessions of `tools/call` for a few seconds
 * while the CPU profiler samples, and prints self time by function and by file, and the work charged
 * to the innermost repository frame on the stack (what of ours made the runtime work).
 * `deno run -A bench/profile_gateway.ts [--seconds 5] [--concurrency 16] [--top 40] [--out FILE.cpuprofile]
 * [--stacks TEXT] [--in FILE] [--rate-limit] [--redis] [--list] [--sim PATH/mod.ts] [--floor | --rewriting-floor] [--alloc [--promoted]]`: `--rate-limit` serves the
 * rate-limit suite's policy, `--redis` puts the gateway's sessions in a redis-server on loopback (the scale
 * suite's Redis store), `--list` profiles `tools/list` of the scale suite's 5,000 tools (50 servers x 100
 * tools; each session lists with plain fetch, reading the answer's bytes into a buffer it keeps) instead of `tools/call`, `--sim` runs
 * another copy of the simulator as the gateway, `--floor` profiles the Deno fetch proxy floor
 * (bench/peers/deno_proxy.ts) instead of the gateway (`--rewriting-floor`: the id-rewriting floor,
 * bench/peers/deno_rewriting_proxy.ts), for the same view of what any Deno hop costs; `--alloc`
 * samples what the process allocates on the JS heap instead of its CPU (V8's sampling heap profiler,
 * counting objects the GC has since collected: what makes the GC work), by function and by the innermost
 * repository frame, in bytes per call (buffers' memory outside the heap is not seen), and with `--promoted` only
 * what outlived the young generation (what makes scavenges costly); `--out`
 * keeps the profile and the call count, `--in` reports on a kept
 * one instead of running, `--stacks` prints the heaviest call stacks of the functions whose
 * `name file:line` contains TEXT.
 *
 * @module
 */

import { parseArgs } from "node:util";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import type { GatewayConfigInput } from "../sim/mod.ts";
import { connectGateway } from "../src/mcp/client.ts";
import { cdp } from "./cdp.ts";
import { BodyDrain, DENO, ROOT, Server, stopAll } from "./lib.ts";
import { rateLimitObjects } from "./rate_limit.ts";
import { rawList } from "./scale.ts";
import { toolServerPrefix } from "./tools_server.ts";
import { startRedis } from "../test/helpers/redis.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
  parent?: number;
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What `--out` writes and `--in` reads. */
interface Saved {
  profile: Profile;
  calls: number;
  seconds: number;
}

/** Samples the profiler takes for itself and the inspector's own events, not the gateway's work. */
const NOT_WORK = new Set(["(idle)", "(program)"]);
const INSPECTOR = /inspector|op_inspector/;
/**
 * Frames of the copy of each `fetch` answer Deno makes while an inspector is attached (it tees the
 * body and reports every chunk to the debugger): the tee's second reader and its pulls.
 */
const INSPECTOR_TEE =
  /^(drainResponseForInspector|pull2Algorithm|pullWithDefaultReader|readableStreamDefaultTee|readableByteStreamTee) /;

/** Prints the `n` largest of `values` under `title`, each as `line(value)` and its key. */
function printTop(
  title: string,
  values: Map<string, number>,
  n: number,
  line: (value: number) => string,
): void {
  console.log(`\n${title}:`);
  for (const [k, v] of [...values].sort((a, b) => b[1] - a[1]).slice(0, n)) console.log(`${line(v)}  ${k}`);
}

/** A frame's file, shortened: repository files relative to the root, npm packages by name. */
function fileOf(url: string): string {
  return url.replace(/^.*node_modules\/\.deno\//, "npm:").replace(`file://${ROOT}`, "") || "(native)";
}

/** A frame as `function file:line` (and column: Deno's own code is bundled on line 1). */
function frameName(f: ProfileNode["callFrame"]): string {
  const file = fileOf(f.url);
  const at = file.startsWith("ext:") ? `${f.lineNumber + 1}:${f.columnNumber + 1}` : `${f.lineNumber + 1}`;
  return `${f.functionName || "(anonymous)"} ${file}:${at}`;
}

/** Prints self time by file and by function, and busy time by the innermost repository frame. */
function report(
  profile: Profile,
  run: { calls: number; seconds: number; top: number; stacks?: string },
): void {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  for (const n of profile.nodes) for (const c of n.children ?? []) byId.get(c)!.parent = n.id;
  const onStack = (id: number, re: RegExp) => {
    for (let n: ProfileNode | undefined = byId.get(id); n; n = n.parent ? byId.get(n.parent) : undefined) {
      if (re.test(frameName(n.callFrame))) return true;
    }
    return false;
  };
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const fnTimes = new Map<string, number>();
  const fileTimes = new Map<string, number>();
  const ownTimes = new Map<string, number>();
  const stackTimes = new Map<string, number>();
  let idle = 0;
  let inspector = 0;
  let busy = 0;
  for (const [id, t] of self) {
    const f = byId.get(id)!.callFrame;
    if (NOT_WORK.has(f.functionName)) {
      idle += t;
      continue;
    }
    // The inspector reports every fetch to the debugger, copying its answer (Deno's fetch tees the
    // body while an inspector is attached): a cost of profiling, not of the gateway.
    if (INSPECTOR.test(f.functionName) || INSPECTOR.test(f.url) || onStack(id, INSPECTOR_TEE)) {
      inspector += t;
      continue;
    }
    busy += t;
    const file = fileOf(f.url);
    const key = frameName(f);
    fnTimes.set(key, (fnTimes.get(key) ?? 0) + t);
    const pkg = file.startsWith("npm:") ? file.split("/").slice(0, 2).join("/") : file;
    fileTimes.set(pkg, (fileTimes.get(pkg) ?? 0) + t);
    // Whose work this was: the innermost frame of this repository (sim/, src/) on the stack.
    let owner = "(no repository frame: Deno.serve, fetch and stream internals, GC, timers)";
    for (let n: ProfileNode | undefined = byId.get(id); n; n = n.parent ? byId.get(n.parent) : undefined) {
      if (n.callFrame.url.startsWith(`file://${ROOT}`)) {
        owner = `${n.callFrame.functionName || "(anonymous)"} ${fileOf(n.callFrame.url)}:${
          n.callFrame.lineNumber + 1
        }`;
        break;
      }
    }
    ownTimes.set(owner, (ownTimes.get(owner) ?? 0) + t);
    if (run.stacks && key.includes(run.stacks)) {
      const frames: string[] = [];
      for (
        let n: ProfileNode | undefined = byId.get(id);
        n && frames.length < 12;
        n = n.parent ? byId.get(n.parent) : undefined
      ) {
        if (n.callFrame.functionName !== "(root)") frames.push(frameName(n.callFrame));
      }
      const stack = frames.join("\n          <- ");
      stackTimes.set(stack, (stackTimes.get(stack) ?? 0) + t);
    }
  }
  const pct = (t: number) => `${((100 * t) / busy).toFixed(1).padStart(5)}%`;
  const us = (t: number) => `${(t / run.calls).toFixed(1).padStart(6)} us/call`;
  console.log(
    `${run.calls} calls in ${run.seconds} s; ${(busy / 1000).toFixed(0)} ms of gateway work sampled ` +
      `(${(busy / run.calls).toFixed(1)} us per call), besides ${(idle / 1000).toFixed(0)} ms idle and ` +
      `${
        (inspector / 1000).toFixed(0)
      } ms in the inspector (profiling's own cost). Percentages are of the work.`,
  );
  const table = (title: string, times: Map<string, number>, n: number) =>
    printTop(title, times, n, (t) => `${pct(t)} ${us(t)}`);
  table("Self time by file or package", fileTimes, 25);
  table("Self time by function", fnTimes, run.top);
  table(
    "Work by the innermost repository frame on the stack (runtime work charged to its caller)",
    ownTimes,
    run.top,
  );
  if (run.stacks) table(`Stacks of the functions matching ${JSON.stringify(run.stacks)}`, stackTimes, 15);
}

/** A node of V8's sampling heap profile. */
interface AllocNode {
  callFrame: ProfileNode["callFrame"];
  selfSize: number;
  children: AllocNode[];
}

/** Prints what was allocated per call, by function and by the innermost repository frame on its stack. */
function reportAlloc(
  head: AllocNode,
  run: { calls: number; seconds: number; top: number; promoted?: boolean },
): void {
  const byFn = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let total = 0;
  let inspector = 0;
  const walk = (node: AllocNode, owner: string) => {
    // What the inspector's report of each fetch allocates (see INSPECTOR_TEE) is profiling's own cost.
    const name = frameName(node.callFrame);
    if (INSPECTOR.test(node.callFrame.url) || INSPECTOR_TEE.test(name) || /ForCdp /.test(name)) {
      const sum = (n: AllocNode): number => n.selfSize + n.children.reduce((t, c) => t + sum(c), 0);
      inspector += sum(node);
      return;
    }
    const own = node.callFrame.url.startsWith(`file://${ROOT}`) ? name : owner;
    if (node.selfSize) {
      total += node.selfSize;
      byFn.set(name, (byFn.get(name) ?? 0) + node.selfSize);
      byOwner.set(own, (byOwner.get(own) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, own);
  };
  walk(head, "(no repository frame: Deno.serve, fetch and stream internals, timers)");
  console.log(
    `${run.calls} calls in ${run.seconds} s; ${(total / run.calls).toFixed(0)} bytes allocated on the JS ` +
      `heap per call (sampled; ${
        run.promoted ? "only objects that outlived the young generation" : "objects collected since included"
      }), besides ${(inspector / run.calls).toFixed(0)} by the inspector's report of each fetch ` +
      `(profiling's own cost). Percentages are of the first.`,
  );
  const table = (title: string, sizes: Map<string, number>) =>
    printTop(
      title,
      sizes,
      run.top,
      (b) =>
        `${((100 * b) / total).toFixed(1).padStart(5)}%  ${(b / run.calls).toFixed(0).padStart(6)} B/call`,
    );
  table("Allocated by function", byFn);
  table("Allocated under the innermost repository frame on the stack", byOwner);
}

/** The `slow` fixture, started; the gateway config naming it. */
async function slowFixture(): Promise<GatewayConfigInput> {
  const fixture = new Server("fixture", DENO, ["run", "-A", "bench/fixture_server.ts", "slow"]);
  const fixtureUrl = (await fixture.waitFor(/^listening \S+ (\S+)$/, 60_000))[1];
  return { servers: [{ name: "bench/slow", url: fixtureUrl, prefix: "slow_" }] };
}

/** The scale suite's 50 tool servers of 100 tools each, started; the gateway config naming them. */
async function toolServers(): Promise<GatewayConfigInput> {
  const servers = new Server("tool servers", DENO, [
    "run",
    "-A",
    "bench/tools_server.ts",
    "--servers",
    "50",
    "--tools",
    "100",
  ]);
  const urls: string[] = [];
  while (urls.length < 50) urls.push((await servers.waitFor(/^listening \S+ (\S+)$/, 60_000))[1]);
  await servers.waitFor(/^ready$/, 60_000);
  return { servers: urls.map((url, i) => ({ name: `bench/tools-${i}`, url, prefix: toolServerPrefix(i) })) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      concurrency: { type: "string", default: "16" },
      top: { type: "string", default: "40" },
      out: { type: "string" },
      stacks: { type: "string" },
      in: { type: "string" },
      // The rate-limit suite's policy (a limit that never trips, per client, on echo) on the gateway.
      "rate-limit": { type: "boolean", default: false },
      list: { type: "boolean", default: false },
      sim: { type: "string" },
      floor: { type: "boolean", default: false },
      "rewriting-floor": { type: "boolean", default: false },
      alloc: { type: "boolean", default: false },
      promoted: { type: "boolean", default: false },
      redis: { type: "boolean", default: false },
    },
  });
  const top = Number(values.top);
  if (values.in) {
    const saved = JSON.parse(await Deno.readTextFile(values.in)) as Saved;
    return report(saved.profile, { ...saved, top, stacks: values.stacks });
  }
  const port = 9229 + Math.floor(Math.random() * 500);
  // The scale suite's Redis session store (a redis-server on loopback), for what the store costs per call.
  await using redis = values.redis ? await startRedis() : undefined;
  try {
    const config = values.list ? await toolServers() : await slowFixture();
    const inspect = ["run", "-A", `--inspect=127.0.0.1:${port}`];
    const floorScript = values["rewriting-floor"]
      ? "bench/peers/deno_rewriting_proxy.ts"
      : values.floor
      ? "bench/peers/deno_proxy.ts"
      : undefined;
    const gateway = floorScript
      ? new Server("floor", DENO, [...inspect, floorScript, config.servers![0].url])
      : new Server("gateway", DENO, [
        ...inspect,
        "bench/gateway_server.ts",
        "--config",
        JSON.stringify(config),
        ...(values["rate-limit"] ? ["--rate-limit", JSON.stringify({ objects: rateLimitObjects() })] : []),
        ...(values.sim ? ["--sim", values.sim] : []),
        ...(redis ? ["--store", redis.url] : []),
      ]);
    // The floor knows no prefixes: it forwards the fixture's own tool name.
    const tool = floorScript ? "echo" : "slow_echo";
    const url = (await gateway.waitFor(/^listening \S+ (\S+)$/, 60_000))[1];
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const session = await cdp(targets[0].webSocketDebuggerUrl);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    const clients = await Promise.all(
      Array.from({ length: Number(values.concurrency) }, () => connectGateway(url)),
    );
    const drains = new Map(clients.map((c) => [c, new BodyDrain()]));
    const call: (c: Client) => Promise<unknown> = values.list
      ? (c) => rawList(c, url, drains.get(c))
      : (c) => c.callTool({ name: tool, arguments: { message: "x" } });
    for (let i = 0; i < (values.list ? 20 : 1); i++) await Promise.all(clients.map(call));
    if (values.alloc) {
      await session.send("HeapProfiler.enable");
      await session.send("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        // `--promoted`: only what outlived the young generation, what makes the scavenges costly.
        includeObjectsCollectedByMinorGC: !values.promoted,
      });
    } else await session.send("Profiler.start");
    const deadline = performance.now() + Number(values.seconds) * 1000;
    let calls = 0;
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < deadline) {
        await call(c);
        calls++;
      }
    }));
    const seconds = Number(values.seconds);
    if (values.alloc) {
      const { profile } = await session.send("HeapProfiler.stopSampling") as { profile: { head: AllocNode } };
      session.close();
      await Promise.all(clients.map((c) => c.close()));
      return reportAlloc(profile.head, { calls, seconds, top, promoted: values.promoted });
    }
    const { profile } = await session.send("Profiler.stop") as { profile: Profile };
    session.close();
    await Promise.all(clients.map((c) => c.close()));
    if (values.out) {
      await Deno.writeTextFile(values.out, JSON.stringify({ profile, calls, seconds } satisfies Saved));
    }
    report(profile, { calls, seconds, top, stacks: values.stacks });
  } finally {
    await stopAll();
  }
}

if (import.meta.main) await main();
