/**
 * Scale suite: `tools/list` of 5,000 tools through the gateway (50 servers x 100 tools) against one
 * server serving the same 5,000 tools directly, and `tools/call` through a gateway on the Redis
 * session store against one on the memory store. Each pair is measured side by side in one run, in
 * rotating blocks and interleaved load runs, so drift in machine load hits both alike. The servers,
 * the gateways and Redis each run in their own process; the clients run in this one. Everything is
 * on loopback and bounded in count and time.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { connectGateway } from "../src/mcp/client.ts";
import process from "node:process";
import { RedisSessionStore } from "../sim/store_redis.ts";
import { startRedis } from "../test/helpers/redis.ts";
import {
  BodyDrain,
  bytes,
  type CallPath,
  count,
  ms,
  ratio,
  sequential,
  type Server,
  startServer,
  type Stats,
  stats,
  type SuiteContext,
  type SuiteResult,
  type Table,
  withTimeout,
} from "./lib.ts";
import { latencyBlocks, loadRuns, sessionPools, steadySeconds, summarizeLoads, warmUp } from "./measure.ts";
import { toolServerPrefix } from "./tools_server.ts";

/** Targets from issue 15. */
const TARGET_LIST_P50_MS = 2;
const TARGET_LIST_RATIO = 1.2;
const TARGET_REDIS_CPU_RATIO = 1.2;

const SERVERS = 50;
const TOOLS_PER_SERVER = 100;

/** A path of this suite: a URL and the processes behind it. */
interface Path extends CallPath {
  url: string;
  /** The processes whose CPU the path's requests are measured on, by name. */
  pids: Record<string, number>;
}

/** The session id the SDK client's transport holds. */
function sessionIdOf(client: Client): string {
  const sid = client.transport?.sessionId;
  if (!sid) throw new Error("The client has no session id");
  return sid;
}

/** The JSON-RPC result of a plain JSON or single-event SSE answer. */
function rpcResult(text: string): Record<string, unknown> {
  const json = text.startsWith("{")
    ? text
    : text.split("\n").find((l) => l.startsWith("data:"))?.slice(5) ?? "";
  const msg = JSON.parse(json) as { result?: Record<string, unknown>; error?: unknown };
  if (!msg.result) throw new Error(`tools/list answered ${text.slice(0, 200)}`);
  return msg.result;
}

/**
 * One `tools/list` with plain fetch on the client's session, its answer's bytes: the time is the
 * server's work and the transfer, not this process decoding and parsing a megabyte of JSON (which
 * the SDK client would add alike to both). With `drain`, the bytes are read into its buffer (see
 * {@linkcode BodyDrain}), valid until its next read.
 */
export async function rawList(client: Client, url: string, drain?: BodyDrain): Promise<Uint8Array> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": sessionIdOf(client),
      "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
    },
    body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
  });
  const body = drain ? await drain.read(res.body) : await res.bytes();
  if (res.status !== 200) {
    throw new Error(
      `tools/list on ${url} answered ${res.status}: ${new TextDecoder().decode(body.slice(0, 200))}`,
    );
  }
  return body;
}

/** Starts `bench/tools_server.ts` and collects the URL of each of its listeners. */
async function startToolServers(name: string, args: string[], listeners: number) {
  const first = await startServer(name, "bench/tools_server.ts", args);
  const urls = [first.url];
  while (urls.length < listeners) urls.push((await first.server.waitFor(/^listening \S+ (\S+)$/, 60_000))[1]);
  await first.server.waitFor(/^ready$/, 60_000);
  return { server: first.server, urls };
}

const verdict = (met: boolean) => (met ? "met" : "not met");

/** Part 1: tools/list of 5,000 tools, gateway against a server listing them itself. */
async function listAtScale(ctx: SuiteContext, result: SuiteResult, servers: Server[], clients: Client[]) {
  const upstreams = await startToolServers("tool servers", [
    "--servers",
    String(SERVERS),
    "--tools",
    String(TOOLS_PER_SERVER),
  ], SERVERS);
  servers.push(upstreams.server);
  const single = await startToolServers("tool server (direct)", [
    "--servers",
    String(SERVERS),
    "--tools",
    String(TOOLS_PER_SERVER),
    "--prefixes",
  ], 1);
  servers.push(single.server);
  const bytesOnly = await startToolServers("static bytes (floor)", [
    "--servers",
    String(SERVERS),
    "--tools",
    String(TOOLS_PER_SERVER),
    "--prefixes",
    "--static",
  ], 1);
  servers.push(bytesOnly.server);
  const config = {
    servers: upstreams.urls.map((url, i) => ({ name: `bench/tools-${i}`, url, prefix: toolServerPrefix(i) })),
  };
  const gateway = await startServer("gateway", "bench/gateway_server.ts", [
    "--config",
    JSON.stringify(config),
    ...(ctx.sim ? ["--sim", ctx.sim] : []),
  ]);
  servers.push(gateway.server);
  const direct: Path = {
    label: "direct (one server, 5,000 tools)",
    prefix: "",
    url: single.urls[0],
    pids: { server: single.server.pid },
  };
  const through: Path = {
    label: `gateway (${SERVERS} servers x ${TOOLS_PER_SERVER} tools)`,
    prefix: "",
    url: gateway.url,
    pids: { gateway: gateway.server.pid, backends: upstreams.server.pid },
  };
  const floor: Path = {
    label: "floor: the answer's bytes, no MCP",
    prefix: "",
    url: bytesOnly.urls[0],
    pids: { server: bytesOnly.server.pid },
  };
  const paths = [direct, through, floor];
  const session = new Map<Path, Client>();
  for (const p of [direct, through]) {
    const client = await withTimeout(connectGateway(p.url), 30_000, `connect ${p.label}`);
    clients.push(client);
    session.set(p, client);
  }
  // Both must list the same 5,000 tools (the gateway adds its meta-tools), or the race is unfair.
  // The floor needs no session: any id does.
  session.set(floor, session.get(direct)!);
  const sizes = new Map<Path, number>();
  const names = new Map<Path, Set<string>>();
  for (const p of paths) {
    const body = await rawList(session.get(p)!, p.url);
    sizes.set(p, body.length);
    const text = new TextDecoder().decode(body);
    names.set(p, new Set((rpcResult(text).tools as Array<{ name: string }>).map((t) => t.name)));
  }
  const missing = [...names.get(direct)!].filter((n) => !names.get(through)!.has(n));
  if (
    names.get(direct)!.size !== SERVERS * TOOLS_PER_SERVER || missing.length ||
    names.get(floor)!.size !== names.get(direct)!.size
  ) {
    throw new Error(
      `The gateway does not list the direct server's ${
        names.get(direct)!.size
      } tools: ${missing.length} missing ` +
        `(first ${missing[0]})`,
    );
  }
  const drain = new BodyDrain();
  const send = (client: Client, p: Path) => rawList(client, p.url, drain);
  for (let i = 0; i < (ctx.quick ? 5 : 20); i++) for (const p of paths) await send(session.get(p)!, p);
  const calls = ctx.quick ? 50 : 500;
  const measured = await latencyBlocks(paths, {
    client: (p) => session.get(p)!,
    calls,
    blocks: 5,
    pids: (p) => p.pids,
    send,
  });
  const lat = new Map(paths.map((p) => [p, stats(measured.latency.get(p)!)]));
  const cpuPerList = (p: Path, name: string) => (measured.cpuMs.get(p)![name] ?? 0) / calls;
  const p50 = lat.get(through)!.median;
  const listRatio = p50 / lat.get(direct)!.median;
  const latencyRow = (
    p: Path,
    s: Stats,
  ) => [p.label, ms(s.median), ms(s.p90), ms(s.p99), ms(s.mean), bytes(sizes.get(p)!)];
  result.tables.push({
    title: `tools/list of ${count(SERVERS * TOOLS_PER_SERVER)} tools: latency (${
      count(calls)
    } sequential lists per path)`,
    columns: ["path", "p50", "p90", "p99", "mean", "answer"],
    rows: paths.map((p) => latencyRow(p, lat.get(p)!)),
  });
  result.tables.push({
    title: "tools/list: CPU per list of the processes behind each path",
    columns: ["path", "process", "CPU per list"],
    rows: paths.flatMap((p) => Object.keys(p.pids).map((name) => [p.label, name, ms(cpuPerList(p, name))])),
  });
  result.data.toolsList = {
    servers: SERVERS,
    toolsPerServer: TOOLS_PER_SERVER,
    calls,
    answerBytes: Object.fromEntries(paths.map((p) => [p.label, sizes.get(p)])),
    latency: Object.fromEntries(paths.map((p) => [p.label, lat.get(p)])),
    cpuMsPerList: Object.fromEntries(
      paths.map((p) => [p.label, Object.fromEntries(Object.keys(p.pids).map((n) => [n, cpuPerList(p, n)]))]),
    ),
    targets: {
      p50Ms: p50,
      p50TargetMs: TARGET_LIST_P50_MS,
      p50Met: p50 <= TARGET_LIST_P50_MS,
      ratio: listRatio,
      ratioTarget: TARGET_LIST_RATIO,
      ratioMet: listRatio <= TARGET_LIST_RATIO,
    },
  };
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  return { p50, listRatio, floorP50: lat.get(floor)!.median, answerBytes: sizes.get(floor)! };
}

/**
 * The round trip's own cost, the Redis side's floor: CPU of this process per `touch` (the one command the
 * gateway sends per call) through the store the gateway uses, one at a time (each waits for its reply,
 * as a session calling alone does) and 16 at once (sent in one turn, the most a loaded gateway batches).
 */
async function roundTripCpu(url: string, quick: boolean): Promise<{ alone: number; batched: number }> {
  const store = await RedisSessionStore.connect(url, { keyPrefix: "bench-round-trip:" });
  try {
    const ids = Array.from({ length: 16 }, (_, i) => `s${i}`);
    for (const id of ids) await store.create(id, { createdAt: Date.now() });
    const perCommand = async (concurrency: number, commands: number) => {
      const each = commands / concurrency;
      const run = () =>
        Promise.all(
          ids.slice(0, concurrency).map(async (id) => {
            for (let i = 0; i < each; i++) await store.touch(id);
          }),
        );
      await run();
      const before = process.cpuUsage();
      await run();
      const used = process.cpuUsage(before);
      return (used.user + used.system) / 1000 / commands;
    };
    const commands = quick ? 400 : 4000;
    return { alone: await perCommand(1, commands), batched: await perCommand(16, commands) };
  } finally {
    for (let i = 0; i < 16; i++) await store.delete(`s${i}`).catch(() => {});
    await store.close();
  }
}

/** Part 2: tools/call through a gateway on Redis against one on memory, the same fixture behind both. */
async function redisVersusMemory(
  ctx: SuiteContext,
  result: SuiteResult,
  servers: Server[],
  clients: Client[],
) {
  await using redis = await startRedis();
  const fixture = await startServer("fixture slow", "bench/fixture_server.ts", ["slow"]);
  servers.push(fixture.server);
  const config = JSON.stringify({ servers: [{ name: "bench/slow", url: fixture.url, prefix: "slow_" }] });
  const sim = ctx.sim ? ["--sim", ctx.sim] : [];
  const memoryGw = await startServer("gateway (memory)", "bench/gateway_server.ts", [
    "--config",
    config,
    ...sim,
  ]);
  servers.push(memoryGw.server);
  const redisGw = await startServer("gateway (redis)", "bench/gateway_server.ts", [
    "--config",
    config,
    "--store",
    redis.url,
    ...sim,
  ]);
  servers.push(redisGw.server);
  const memory: Path = {
    label: "memory store",
    prefix: "slow_",
    url: memoryGw.url,
    pids: { gateway: memoryGw.server.pid, fixture: fixture.server.pid },
  };
  const onRedis: Path = {
    label: "Redis store",
    prefix: "slow_",
    url: redisGw.url,
    pids: { gateway: redisGw.server.pid, fixture: fixture.server.pid },
  };
  const paths = [memory, onRedis];
  const single = new Map<Path, Client>();
  for (const p of paths) {
    const client = await withTimeout(connectGateway(p.url), 30_000, `connect ${p.label}`);
    clients.push(client);
    single.set(p, client);
  }
  const concurrency = ctx.quick ? 4 : 16;
  const seconds = ctx.quick ? 1 : 5;
  const pools = await sessionPools(paths, {
    concurrency,
    connect: (p) => withTimeout(connectGateway(p.url), 30_000, `connect ${p.label}`),
    opened: clients,
  });
  // Both gateways at their steady state before anything is timed (the Redis client's code warms too).
  for (const p of paths) await warmUp(pools.get(p)!, p, steadySeconds(ctx));
  const warmup = ctx.quick ? 20 : 100;
  for (const p of paths) await withTimeout(sequential(single.get(p)!, p, warmup), 60_000, "warm-up");
  const calls = ctx.quick ? 100 : 1000;
  const measured = await latencyBlocks(paths, {
    client: (p) => single.get(p)!,
    calls,
    blocks: 5,
    pids: (p) => p.pids,
  });
  const lat = new Map(paths.map((p) => [p, stats(measured.latency.get(p)!)]));
  // In order then in reverse, four times: neither store always runs first or last, and the median of eight
  // pairs holds still where four swung by 0.2x between runs.
  const order = Array.from({ length: 4 }, () => [memory, onRedis, onRedis, memory]).flat();
  const loads = await loadRuns(order, {
    pools,
    seconds: seconds / 4,
    pids: (p) => p.pids,
    what: "load (store)",
  });
  const tput = new Map(paths.map((p) => [p, summarizeLoads(loads.get(p)!, ["gateway", "fixture"])]));
  const seqCpu = (p: Path) => (measured.cpuMs.get(p)!.gateway ?? 0) / calls;
  const loadCpu = (p: Path) => tput.get(p)!.cpuMsPerCall.gateway;
  // Each Redis run beside the memory run next to it in the order: the median of those ratios is the
  // verdict, as load on a shared machine drifts between runs more than within a pair.
  const perRun = (r: { calls: number; cpuMs: Record<string, number> }) => r.cpuMs.gateway / r.calls;
  const pairRatios = loads.get(onRedis)!.map((r, i) => perRun(r) / perRun(loads.get(memory)![i]));
  const cpuRatio = stats(pairRatios).median;
  const summedRatio = loadCpu(onRedis) / loadCpu(memory);
  result.tables.push({
    title:
      `tools/call on the Redis store vs memory: gateway CPU per call (${count(calls)} sequential calls; ` +
      `${concurrency} sessions x ${order.length / 2} runs of ${(seconds / 4).toFixed(2)} s per store)`,
    columns: [
      "store",
      "p50 (sequential)",
      "p99 (sequential)",
      "CPU/call (sequential)",
      "calls/s (load)",
      "p50 (load)",
      "CPU/call (load)",
    ],
    rows: paths.map((p) => {
      const s = lat.get(p)!;
      const t = tput.get(p)!;
      return [
        p.label,
        ms(s.median),
        ms(s.p99),
        ms(seqCpu(p)),
        count(t.callsPerSecond),
        ms(t.latency.median),
        ms(loadCpu(p)),
      ];
    }),
  });
  // The least one round trip per call allows: the memory store's CPU per call plus the command's own.
  const roundTrip = await roundTripCpu(redis.url, ctx.quick);
  const floors = {
    roundTripMs: roundTrip,
    loadBatched: (loadCpu(memory) + roundTrip.batched) / loadCpu(memory),
    loadAlone: (loadCpu(memory) + roundTrip.alone) / loadCpu(memory),
    sequential: (seqCpu(memory) + roundTrip.alone) / seqCpu(memory),
  };
  result.data.redisStore = {
    floors,
    calls,
    concurrency,
    runSeconds: seconds / 4,
    latency: Object.fromEntries(paths.map((p) => [p.label, lat.get(p)])),
    cpuMsPerCallSequential: Object.fromEntries(paths.map((p) => [p.label, measured.cpuMs.get(p)!])),
    throughput: Object.fromEntries(paths.map((p) => [p.label, tput.get(p)])),
    targets: {
      cpuRatio,
      pairRatios,
      summedRatio,
      cpuRatioTarget: TARGET_REDIS_CPU_RATIO,
      cpuRatioMet: cpuRatio <= TARGET_REDIS_CPU_RATIO,
    },
  };
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  return { cpuRatio, pairRatios, summedRatio, seqRatio: seqCpu(onRedis) / seqCpu(memory), floors };
}

/** Runs the scale suite. */
export async function scaleSuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const servers: Server[] = [];
  const clients: Client[] = [];
  const targets: Table = {
    title: "Targets (issue 15)",
    columns: ["what", "measured", "target", "verdict"],
    rows: [],
  };
  result.tables.push(targets);
  try {
    const list = await listAtScale(ctx, result, servers, clients);
    targets.rows.push(
      [
        `tools/list through the gateway, ${SERVERS} x ${TOOLS_PER_SERVER} tools, p50`,
        ms(list.p50),
        `<= ${ms(TARGET_LIST_P50_MS)}`,
        verdict(list.p50 <= TARGET_LIST_P50_MS),
      ],
      [
        "tools/list p50, gateway / one server with the same tools",
        ratio(list.listRatio),
        `<= ${ratio(TARGET_LIST_RATIO, 1)}`,
        verdict(list.listRatio <= TARGET_LIST_RATIO),
      ],
    );
    await Promise.allSettled(servers.splice(0).map((s) => s.stop()));
    const store = await redisVersusMemory(ctx, result, servers, clients);
    targets.rows.push([
      "tools/call gateway CPU per call under load, Redis store / memory store (median of paired runs)",
      ratio(store.cpuRatio),
      `<= ${ratio(TARGET_REDIS_CPU_RATIO, 1)}`,
      `${verdict(store.cpuRatio <= TARGET_REDIS_CPU_RATIO)} (one round trip per call allows no less than ` +
      `${ratio(store.floors.loadBatched)} to ${ratio(store.floors.loadAlone)})`,
    ], [
      "the same, one session calling sequentially (a Redis round trip no other call shares)",
      ratio(store.seqRatio),
      `<= ${ratio(TARGET_REDIS_CPU_RATIO, 1)}`,
      `${verdict(store.seqRatio <= TARGET_REDIS_CPU_RATIO)} (one round trip per call allows no less than ` +
      `${ratio(store.floors.sequential)})`,
    ]);
    result.notes.push(
      `The floor (a server answering every request with the ${bytes(list.answerBytes)} answer's bytes, ` +
        `prepared once, no MCP) has a tools/list p50 of ${ms(list.floorP50)} in this run: what moving the ` +
        `answer over loopback to this process costs on this machine, whatever the server does.`,
      `tools/list is timed with plain fetch on an SDK client's session, reading the answer's bytes into one buffer ` +
        `kept across lists: the server's work and the transfer, not this process decoding and parsing the list. ` +
        `(\`res.bytes()\` allocates a zeroed 64 KiB buffer per read and copies them all; with it this process ` +
        `was most of the time, and every path's p50 swung between about 1.6 and 6 ms by whether a GC ran.) The ${SERVERS} upstream servers ` +
        `run in one process; the gateway serves tools/list from its catalog without asking them.`,
      `Redis runs on loopback (redis-server, no persistence) as the tests start it. The verdict is the median of ` +
        `the Redis / memory ratios of gateway CPU per call of adjacent load runs ` +
        `(${store.pairRatios.map((r) => ratio(r)).join(", ")}); all load runs summed give ` +
        `${ratio(store.summedRatio)}. ` +
        `What Redis adds per call is one round trip (one EXPIRE of the session's key: a session the gateway holds needs no record read back) ` +
        `before the call is routed. Both gateways had ${
          steadySeconds(ctx)
        } s of the load runs' load before anything was timed, as in the gateway suite.`,
      `The Redis floor: that one command, sent through the store the gateway uses from this process, costs ` +
        `${(store.floors.roundTripMs.alone * 1000).toFixed(1)} µs of CPU when each waits for its reply and ` +
        `${
          (store.floors.roundTripMs.batched * 1000).toFixed(1)
        } µs when 16 go out in one turn. Added to the ` +
        `memory store's CPU per call, that is the least a gateway checking the store once per call can reach ` +
        `(the cluster's router reads the session from Redis on every routed tools/call too): under load between ` +
        `${ratio(store.floors.loadBatched)} (every command batched) and ${ratio(store.floors.loadAlone)} ` +
        `(none), alone ${ratio(store.floors.sequential)}, before the wake-up for the reply that a process ` +
        `which has nothing else to do pays on top.`,
    );
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}
