/**
 * Gateway suite: tools/call latency and throughput straight to a fixture MCP server and through the
 * simulator gateway, and memory per idle session of each, in one run. The fixture (`slow`, tool
 * `echo`) and the gateway each run in their own process; the clients run in this one. Everything is
 * on loopback and bounded in count and time.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import { connectGateway } from "../src/mcp/client.ts";
import {
  bytes,
  count,
  cpuMsOf,
  DENO,
  ms,
  ratio,
  Server,
  sleep,
  type Stats,
  stats,
  type SuiteResult,
  withTimeout,
} from "./lib.ts";
import type { SuiteContext } from "./main.ts";

/** Targets from the issue. */
const TARGET_P50_RATIO = 1.3;
const TARGET_THROUGHPUT_RATIO = 0.8;

interface Path {
  label: "direct" | "gateway";
  url: string;
  /** Prepended to the fixture's tool names: the registration's prefix on the gateway path. */
  prefix: string;
}

/** A tools/call and the text it must answer. */
interface Call {
  tool: string;
  args: (message: string) => Record<string, unknown>;
  expect: (message: string) => string;
}

const ECHO: Call = { tool: "echo", args: (message) => ({ message }), expect: (message) => message };
/** A tool that does 5 ms of work (a timer) before answering, without progress notifications. */
const SLEEP_5MS: Call = { tool: "sleep", args: () => ({ ms: 5, steps: 1 }), expect: () => "slept 5ms" };

/** Starts a bench server script and waits for its `listening NAME URL` line. */
async function startServer(
  name: string,
  script: string,
  args: string[],
): Promise<{ server: Server; url: string }> {
  const server = new Server(name, DENO, ["run", "-A", "--v8-flags=--expose-gc", script, ...args]);
  try {
    const m = await server.waitFor(/^listening \S+ (\S+)$/, 60_000);
    return { server, url: m[1] };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

async function callOnce(client: Client, path: Path, message: string, call: Call = ECHO): Promise<void> {
  const name = path.prefix + call.tool;
  const r = await client.callTool({ name, arguments: call.args(message) }, undefined, { timeout: 10_000 });
  const content = r.content as Array<{ type: string; text?: string }>;
  if (r.isError || content?.[0]?.text !== call.expect(message)) {
    throw new Error(`${path.label} ${name} answered ${JSON.stringify(r).slice(0, 200)}`);
  }
}

/** Sequential calls on one session; returns per-call latencies in ms. */
async function sequential(client: Client, path: Path, calls: number, call: Call = ECHO): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await callOnce(client, path, `m${i}`, call);
    out.push(performance.now() - t0);
  }
  return out;
}

interface LoadResult {
  calls: number;
  errors: number;
  seconds: number;
  latencies: number[];
  cpuMs: Record<string, number>;
}

/** `clients` sessions calling in a loop for `seconds`; counts completed calls. */
async function load(
  clients: Client[],
  path: Path,
  seconds: number,
  pids: Record<string, number>,
  call: Call = ECHO,
): Promise<LoadResult> {
  const cpu0 = Object.fromEntries(
    await Promise.all(Object.entries(pids).map(async ([k, p]) => [k, await cpuMsOf(p)])),
  );
  const latencies: number[] = [];
  let calls = 0;
  let errors = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(clients.map(async (client, c) => {
    let i = 0;
    while (performance.now() < deadline) {
      const s = performance.now();
      try {
        await callOnce(client, path, `c${c}-${i++}`, call);
        latencies.push(performance.now() - s);
        calls++;
      } catch {
        errors++;
        if (errors > 100) throw new Error(`more than 100 failed calls on the ${path.label} path`);
      }
    }
  }));
  const elapsed = (performance.now() - t0) / 1000;
  const cpuMs: Record<string, number> = {};
  for (const [k, p] of Object.entries(pids)) cpuMs[k] = (await cpuMsOf(p)) - cpu0[k];
  return { calls, errors, seconds: elapsed, latencies, cpuMs };
}

const ACCEPT = "application/json, text/event-stream";

/** initialize + notifications/initialized with plain fetch; returns the session id, session left open. */
async function openRawSession(url: string, i: number): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { accept: ACCEPT, "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: `bench-${i}`, version: "1.0.0" },
      },
    }),
  });
  const body = await res.text();
  const sid = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !sid) throw new Error(`initialize answered ${res.status}: ${body.slice(0, 200)}`);
  const note = await fetch(url, {
    method: "POST",
    headers: {
      accept: ACCEPT,
      "content-type": "application/json",
      "mcp-session-id": sid,
      "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await note.body?.cancel();
  if (note.status !== 202) throw new Error(`notifications/initialized answered ${note.status}`);
  return sid;
}

async function deleteRawSession(url: string, sid: string): Promise<void> {
  const res = await fetch(url, {
    method: "DELETE",
    headers: { "mcp-session-id": sid, "mcp-protocol-version": LATEST_PROTOCOL_VERSION },
  });
  await res.body?.cancel();
}

/** Runs `fn` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

interface MemoryResult {
  sessions: number;
  rssBefore: number;
  rssOpen: number;
  rssAfterDelete: number;
  bytesPerSession: number;
  heapBefore: number;
  heapOpen: number;
  heapAfterDelete: number;
  heapBytesPerSession: number;
  openSeconds: number;
}

async function sessionMemory(server: Server, url: string, sessions: number): Promise<MemoryResult> {
  const settle = async () => {
    const heap = await server.collectGarbage();
    await sleep(200);
    return { heap, rss: await server.rss() };
  };
  // Warm-up: the first sessions of a fresh process also compile code and fill caches once.
  const warm = await pool(Array.from({ length: 50 }, (_, i) => i), 16, (i) => openRawSession(url, i));
  await pool(warm, 16, (sid) => deleteRawSession(url, sid));
  const before = await settle();
  const t0 = performance.now();
  const ids = await pool(Array.from({ length: sessions }, (_, i) => i), 16, (i) => openRawSession(url, i));
  const openSeconds = (performance.now() - t0) / 1000;
  const open = await settle();
  await pool(ids, 16, (sid) => deleteRawSession(url, sid));
  const after = await settle();
  return {
    sessions,
    rssBefore: before.rss,
    rssOpen: open.rss,
    rssAfterDelete: after.rss,
    bytesPerSession: (open.rss - before.rss) / sessions,
    heapBefore: before.heap,
    heapOpen: open.heap,
    heapAfterDelete: after.heap,
    heapBytesPerSession: (open.heap - before.heap) / sessions,
    openSeconds,
  };
}

/** Runs the gateway suite. */
export async function gatewaySuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const warmup = ctx.quick ? 10 : 50;
  const sequentialCalls = ctx.quick ? 50 : 500;
  const concurrency = ctx.quick ? 4 : 16;
  const seconds = ctx.quick ? 1 : 5;
  const sessions = ctx.quick ? 100 : 1000;
  const notes = result.notes;
  const servers: Server[] = [];
  const clients: Client[] = [];
  try {
    const fixture = await startServer("fixture slow", "bench/fixture_server.ts", ["slow"]);
    servers.push(fixture.server);
    const config = { servers: [{ name: "bench/slow", url: fixture.url, prefix: "slow_" }] };
    const gateway = await startServer("gateway", "bench/gateway_server.ts", [
      "--config",
      JSON.stringify(config),
      ...(ctx.sim ? ["--sim", ctx.sim] : []),
    ]);
    if (ctx.sim) notes.push(`The gateway ran the simulator loaded from ${ctx.sim}, not sim/mod.ts.`);
    servers.push(gateway.server);
    const paths: Path[] = [
      { label: "direct", url: fixture.url, prefix: "" },
      { label: "gateway", url: gateway.url, prefix: "slow_" },
    ];
    const pids = { fixture: fixture.server.pid, gateway: gateway.server.pid, client: Deno.pid };

    // Memory first, while both server processes are fresh: idle sessions held open against each.
    const memory = {
      direct: await withTimeout(
        sessionMemory(fixture.server, fixture.url, sessions),
        180_000,
        "direct sessions",
      ),
      gateway: await withTimeout(
        sessionMemory(gateway.server, gateway.url, sessions),
        180_000,
        "gateway sessions",
      ),
    };

    // Latency: one session per path, sequential calls in alternating blocks so drift in machine load
    // hits both paths alike.
    const single = await Promise.all(
      paths.map((p) => withTimeout(connectGateway(p.url), 30_000, `connect ${p.label}`)),
    );
    clients.push(...single);
    for (let i = 0; i < 2; i++) {
      for (const [k, p] of paths.entries()) {
        await withTimeout(sequential(single[k], p, warmup / 2), 60_000, "warm-up");
      }
    }
    const blocks = 5;
    const latency: Record<string, number[]> = { direct: [], gateway: [] };
    const latencyCpu: Record<string, Record<string, number>> = { direct: {}, gateway: {} };
    for (let b = 0; b < blocks; b++) {
      const order = b % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const p = paths[k];
        const cpu0 = await Promise.all(Object.values(pids).map(cpuMsOf));
        latency[p.label].push(
          ...await withTimeout(
            sequential(single[k], p, sequentialCalls / blocks),
            120_000,
            `${p.label} latency`,
          ),
        );
        const cpu1 = await Promise.all(Object.values(pids).map(cpuMsOf));
        Object.keys(pids).forEach((name, j) => {
          latencyCpu[p.label][name] = (latencyCpu[p.label][name] ?? 0) + cpu1[j] - cpu0[j];
        });
      }
    }
    const lat = { direct: stats(latency.direct), gateway: stats(latency.gateway) };

    // The same with a tool that takes 5 ms, as a backend doing real work would.
    const workCalls = ctx.quick ? 20 : 100;
    const work: Record<string, number[]> = { direct: [], gateway: [] };
    for (const [k, p] of paths.entries()) await sequential(single[k], p, 3, SLEEP_5MS);
    for (let b = 0; b < blocks; b++) {
      for (const k of b % 2 === 0 ? [0, 1] : [1, 0]) {
        const p = paths[k];
        work[p.label].push(
          ...await withTimeout(
            sequential(single[k], p, workCalls / blocks, SLEEP_5MS),
            120_000,
            `${p.label} 5 ms tool latency`,
          ),
        );
      }
    }
    const workLat = { direct: stats(work.direct), gateway: stats(work.gateway) };

    // Throughput: `concurrency` sessions per path, ABBA so neither path always runs first.
    const pools = await Promise.all(
      paths.map((p) =>
        Promise.all(
          Array.from({ length: concurrency }, () =>
            withTimeout(connectGateway(p.url), 30_000, `connect ${p.label}`)),
        )
      ),
    );
    clients.push(...pools.flat());
    for (const [k, p] of paths.entries()) await Promise.all(pools[k].map((c) => callOnce(c, p, "warm")));
    const loads: Record<string, LoadResult[]> = { direct: [], gateway: [] };
    for (const k of [0, 1, 1, 0]) {
      const p = paths[k];
      loads[p.label].push(
        await withTimeout(load(pools[k], p, seconds / 2, pids), seconds * 1000 + 60_000, "load"),
      );
    }
    // The same load with a tool doing 5 ms of work: a backend that waits on something, as real ones do.
    const workLoads: Record<string, LoadResult[]> = { direct: [], gateway: [] };
    for (const k of [0, 1, 1, 0]) {
      const p = paths[k];
      workLoads[p.label].push(
        await withTimeout(
          load(pools[k], p, seconds / 2, pids, SLEEP_5MS),
          seconds * 1000 + 60_000,
          "load (5 ms tool)",
        ),
      );
    }
    const workCallsPerSecond = (label: string) =>
      workLoads[label].reduce((a, r) => a + r.calls, 0) / workLoads[label].reduce((a, r) => a + r.seconds, 0);
    const workTput = { direct: workCallsPerSecond("direct"), gateway: workCallsPerSecond("gateway") };
    const tput: Record<
      string,
      {
        callsPerSecond: number;
        calls: number;
        errors: number;
        latency: Stats;
        cpuMsPerCall: Record<string, number>;
      }
    > = {};
    for (const p of paths) {
      const l = loads[p.label];
      const calls = l.reduce((a, r) => a + r.calls, 0);
      const secs = l.reduce((a, r) => a + r.seconds, 0);
      const cpu: Record<string, number> = {};
      for (const name of Object.keys(pids)) cpu[name] = l.reduce((a, r) => a + r.cpuMs[name], 0) / calls;
      tput[p.label] = {
        callsPerSecond: calls / secs,
        calls,
        errors: l.reduce((a, r) => a + r.errors, 0),
        latency: stats(l.flatMap((r) => r.latencies)),
        cpuMsPerCall: cpu,
      };
    }
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));

    const p50Ratio = lat.gateway.median / lat.direct.median;
    const workP50Ratio = workLat.gateway.median / workLat.direct.median;
    const tputRatio = tput.gateway.callsPerSecond / tput.direct.callsPerSecond;
    const latencyTable = (title: string, st: Record<string, Stats>) => ({
      title,
      columns: ["path", "p50", "p90", "p99", "mean", "max"],
      rows: [
        ...paths.map((p) => {
          const x = st[p.label];
          return [p.label, ms(x.median), ms(x.p90), ms(x.p99), ms(x.mean), ms(x.max)];
        }),
        [
          "gateway / direct",
          ratio(st.gateway.median / st.direct.median),
          ratio(st.gateway.p90 / st.direct.p90),
          ratio(st.gateway.p99 / st.direct.p99),
          ratio(st.gateway.mean / st.direct.mean),
          "",
        ],
        [
          "gateway - direct",
          ms(st.gateway.median - st.direct.median),
          ms(st.gateway.p90 - st.direct.p90),
          ms(st.gateway.p99 - st.direct.p99),
          ms(st.gateway.mean - st.direct.mean),
          "",
        ],
      ],
    });
    result.tables.push(latencyTable(
      `tools/call latency of \`echo\` (no work: pure protocol and hop cost): ${sequentialCalls} sequential ` +
        `calls per path on one session (after ${warmup} warm-up calls), in ${blocks} alternating blocks`,
      lat,
    ));
    result.tables.push(latencyTable(
      `tools/call latency of \`sleep\` 5 ms (a tool doing 5 ms of work): ${workCalls} sequential calls per ` +
        `path, in ${blocks} alternating blocks`,
      workLat,
    ));
    result.tables.push({
      title: `tools/call throughput: ${concurrency} concurrent sessions per path, ${seconds} s per path ` +
        `(two ${seconds / 2} s runs, ABBA order)`,
      columns: [
        "path",
        "calls/s",
        "calls",
        "errors",
        "p50",
        "p99",
        "CPU ms/call: fixture",
        "gateway",
        "client",
      ],
      rows: [
        ...paths.map((p) => {
          const t = tput[p.label];
          return [
            p.label,
            count(t.callsPerSecond),
            count(t.calls),
            count(t.errors),
            ms(t.latency.median),
            ms(t.latency.p99),
            t.cpuMsPerCall.fixture.toFixed(2),
            t.cpuMsPerCall.gateway.toFixed(2),
            t.cpuMsPerCall.client.toFixed(2),
          ];
        }),
        [
          "gateway / direct",
          ratio(tputRatio),
          "",
          "",
          ratio(tput.gateway.latency.median / tput.direct.latency.median),
          ratio(tput.gateway.latency.p99 / tput.direct.latency.p99),
          "",
          "",
          "",
        ],
      ],
    });
    result.tables.push({
      title:
        `Memory per idle session: ${sessions} sessions opened (initialize + notifications/initialized) ` +
        "and kept open on the freshly started server process (after 50 warm-up sessions opened and deleted); " +
        "measured after a full GC",
      columns: [
        "server process",
        "RSS before",
        "RSS with sessions",
        "RSS per session",
        "V8 heap per session",
        "RSS after DELETE",
        "V8 heap before / open / after DELETE",
        "open time",
      ],
      rows: paths.map((p) => {
        const m = memory[p.label];
        return [
          p.label === "direct" ? "fixture (direct)" : "gateway",
          bytes(m.rssBefore),
          bytes(m.rssOpen),
          bytes(m.bytesPerSession),
          bytes(m.heapBytesPerSession),
          bytes(m.rssAfterDelete),
          `${bytes(m.heapBefore)} / ${bytes(m.heapOpen)} / ${bytes(m.heapAfterDelete)}`,
          `${m.openSeconds.toFixed(1)} s`,
        ];
      }),
    });
    const met = (ok: boolean) => (ok ? "met" : "NOT met");
    result.tables.push({
      title: "Targets (from the issue; reported, not asserted)",
      columns: ["target", "measured", "verdict"],
      rows: [
        [
          `gateway p50 within ${TARGET_P50_RATIO}x of direct (\`echo\`: the target as stated)`,
          ratio(p50Ratio),
          met(p50Ratio <= TARGET_P50_RATIO),
        ],
        [
          `gateway p50 within ${TARGET_P50_RATIO}x of direct, for a tool doing 5 ms of work (for context)`,
          ratio(workP50Ratio),
          met(workP50Ratio <= TARGET_P50_RATIO),
        ],
        [
          `gateway throughput at least ${TARGET_THROUGHPUT_RATIO}x of direct (\`echo\`: the target as stated)`,
          ratio(tputRatio),
          met(tputRatio >= TARGET_THROUGHPUT_RATIO),
        ],
        [
          `gateway throughput at least ${TARGET_THROUGHPUT_RATIO}x of direct, for a tool doing 5 ms of work ` +
          `(${Math.round(workTput.direct)} vs ${Math.round(workTput.gateway)} calls/s; for context)`,
          ratio(workTput.gateway / workTput.direct),
          met(workTput.gateway / workTput.direct >= TARGET_THROUGHPUT_RATIO),
        ],
      ],
    });
    const gwLatCpu = latencyCpu.gateway;
    notes.push(
      "Clients are the project's MCP client (src/mcp/client.ts connectGateway, the SDK's Streamable HTTP " +
        "client) in the harness process; the fixture and the gateway are separate `deno run` processes " +
        "(bench/fixture_server.ts, bench/gateway_server.ts). All three share the machine's cores.",
      `CPU during the sequential calls, ms per call: direct path fixture ${
        (latencyCpu.direct.fixture / sequentialCalls).toFixed(2)
      }, client ${(latencyCpu.direct.client / sequentialCalls).toFixed(2)}; gateway path fixture ${
        (gwLatCpu.fixture / sequentialCalls).toFixed(2)
      }, gateway ${(gwLatCpu.gateway / sequentialCalls).toFixed(2)}, client ${
        (gwLatCpu.client / sequentialCalls).toFixed(2)
      }.`,
      "Idle sessions are opened with plain fetch (no standalone GET stream), so the figure is the " +
        "server's per-session state; the gateway opens no backend session until a session's first call. " +
        "RSS does not shrink after DELETE (the allocator keeps freed pages); the V8 heap does, which shows " +
        "closed sessions are released.",
    );
    const cpuSum = (label: string) => Object.values(tput[label].cpuMsPerCall).reduce((a, b) => a + b, 0);
    const hopFloor = tput.direct.cpuMsPerCall.fixture + tput.direct.cpuMsPerCall.client;
    notes.push(
      `Under load every call costs ${cpuSum("direct").toFixed(2)} ms of CPU summed over all processes ` +
        `on the direct path and ${cpuSum("gateway").toFixed(2)} ms through the gateway. With the ` +
        `cores saturated (${
          Deno.loadavg()[0].toFixed(1)
        } load on ${navigator.hardwareConcurrency} cores at the end of this phase), ` +
        `throughput follows CPU per call, so ${
          ratio(cpuSum("direct") / cpuSum("gateway"))
        } is what this machine allows the gateway path. ` +
        `A proxy hop on loopback is one more MCP server side plus one more MCP client side ` +
        `(${hopFloor.toFixed(2)} ms here, the fixture's plus the client's); the gateway spends ` +
        `${tput.gateway.cpuMsPerCall.gateway.toFixed(2)} ms, so even a free gateway would stay near ` +
        `${ratio(cpuSum("direct") / (cpuSum("direct") + hopFloor))} of direct throughput when the same ` +
        "cores run client, gateway and server, and near 2x direct latency for a tool that does no work.",
    );
    result.data = {
      parameters: { warmup, sequentialCalls, workCalls, blocks, concurrency, seconds, sessions },
      latency: lat,
      latency5msTool: workLat,
      latencyCpuMs: latencyCpu,
      throughput: tput,
      throughput5msTool: workTput,
      memory,
      targets: {
        p50Ratio,
        p50Target: TARGET_P50_RATIO,
        p50Met: p50Ratio <= TARGET_P50_RATIO,
        p50RatioWith5msTool: workP50Ratio,
        throughputRatio: tputRatio,
        throughputTarget: TARGET_THROUGHPUT_RATIO,
        throughputMet: tputRatio >= TARGET_THROUGHPUT_RATIO,
        throughputRatioWith5msTool: workTput.gateway / workTput.direct,
      },
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.allSettled(servers.map((s) => s.stop()));
  }
}
