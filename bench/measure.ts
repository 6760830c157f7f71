/**
 * The measuring loops the suites share: sequential calls in rotating blocks with the CPU of the
 * processes around them, pools of sessions, load runs in a given order and their sums, and a
 * function's CPU and wall time per call in this process.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { cpuUsage } from "node:process";
import {
  type Call,
  callOnce,
  type CallPath,
  cpuMsOf,
  ECHO,
  load,
  type LoadResult,
  rotate,
  sequential,
  type Stats,
  stats,
  type SuiteContext,
  withTimeout,
} from "./lib.ts";

/** Options of {@linkcode latencyBlocks}. */
export interface LatencyOptions<P extends CallPath> {
  /** The session each path's calls go through. */
  client: (path: P) => Client;
  /** Calls per path in all. */
  calls: number;
  /** Blocks the calls are split into; block n starts at path n, so drift in load hits every path alike. */
  blocks: number;
  /** The processes whose CPU the path's calls are measured on, by name. */
  pids: (path: P) => Record<string, number>;
  /** Called before each path's block (to switch something the path needs). */
  before?: (path: P) => Promise<void>;
  /** The tool called (default {@linkcode ECHO}). */
  call?: Call;
  /** Sends one request other than a tools/call on the path's session (then `call` is not used). */
  send?: (client: Client, path: P) => Promise<unknown>;
}

/** Each path's latencies (ms) and the CPU (ms) of its processes over its calls, by the names `pids` gave. */
export interface LatencyResult<P> {
  /** Per-call latencies, ms. */
  latency: Map<P, number[]>;
  /** CPU each process used during the path's calls, ms. */
  cpuMs: Map<P, Record<string, number>>;
}

/** Sequential calls on each path in rotating blocks, with the CPU of the processes behind each path. */
export async function latencyBlocks<P extends CallPath>(
  paths: P[],
  options: LatencyOptions<P>,
): Promise<LatencyResult<P>> {
  const latency = new Map(paths.map((p) => [p, [] as number[]]));
  const cpuMs = new Map(paths.map((p) => [p, {} as Record<string, number>]));
  for (let b = 0; b < options.blocks; b++) {
    for (const p of rotate(paths, b)) {
      await options.before?.(p);
      const pids = Object.entries(options.pids(p));
      const cpu0 = await Promise.all(pids.map(([, pid]) => cpuMsOf(pid)));
      const send = options.send;
      latency.get(p)!.push(
        ...await withTimeout(
          send
            ? timedSends(() => send(options.client(p), p), options.calls / options.blocks)
            : sequential(options.client(p), p, options.calls / options.blocks, options.call),
          120_000,
          `${p.label} latency`,
        ),
      );
      const cpu1 = await Promise.all(pids.map(([, pid]) => cpuMsOf(pid)));
      const spent = cpuMs.get(p)!;
      pids.forEach(([name], j) => spent[name] = (spent[name] ?? 0) + cpu1[j] - cpu0[j]);
    }
  }
  return { latency, cpuMs };
}

/** `calls` sequential `send`s; returns per-request latencies in ms. */
async function timedSends(send: () => Promise<unknown>, calls: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await send();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Options of {@linkcode sessionPools}. */
export interface PoolOptions<P extends CallPath> {
  /** Sessions per path. */
  concurrency: number;
  /** Opens a session on a path. */
  connect: (path: P) => Promise<Client>;
  /** Called before each path's warm-up call. */
  before?: (path: P) => Promise<void>;
  /** Every session opened is pushed here as soon as it opens, for the caller to close. */
  opened: Client[];
}

/**
 * Seconds of load a path gets before it is timed: a Deno or Node process's first seconds under load
 * cost more CPU per call than its steady state (JIT tiers, the young generation growing), which a
 * gateway that serves for days has long left behind. Measured (16 sessions, 1.25 s): the simulator
 * 413-456 µs per call after 1 s of load, 228-247 after 6 s; the Deno fetch proxy floor 236-241 and
 * 180-199.
 */
const STEADY_WARMUP_SECONDS = 5;

/** The steady-state warm-up of a suite's run: {@linkcode STEADY_WARMUP_SECONDS}, 1 s with `--quick`. */
export function steadySeconds(ctx: SuiteContext): number {
  return ctx.quick ? 1 : STEADY_WARMUP_SECONDS;
}

/** Unmeasured load of `call` on `pool` for `seconds`: a warm-up (see {@linkcode STEADY_WARMUP_SECONDS}). */
export async function warmUp(
  pool: Client[],
  path: CallPath,
  seconds: number,
  call: Call = ECHO,
): Promise<void> {
  await withTimeout(load(pool, path, seconds, {}, call), seconds * 1000 + 60_000, `${path.label} warm-up`);
}

/** `concurrency` sessions per path, each warmed by one call. */
export async function sessionPools<P extends CallPath>(
  paths: P[],
  options: PoolOptions<P>,
): Promise<Map<P, Client[]>> {
  const pools = new Map<P, Client[]>();
  for (const p of paths) {
    const pool = await Promise.all(Array.from({ length: options.concurrency }, () => options.connect(p)));
    options.opened.push(...pool);
    pools.set(p, pool);
    await options.before?.(p);
    await Promise.all(pool.map((c) => callOnce(c, p, "warm")));
  }
  return pools;
}

/** Options of {@linkcode loadRuns}. */
export interface LoadRunOptions<P extends CallPath> {
  /** Each path's sessions. */
  pools: Map<P, Client[]>;
  /** Seconds of each run. */
  seconds: number;
  /** The processes whose CPU each run measures, by name. */
  pids: (path: P) => Record<string, number>;
  /** Called before each run. */
  before?: (path: P) => Promise<void>;
  /**
   * Seconds of unmeasured load on the path's sessions just before each run (default none): a path
   * that idled while the others ran is measured warm, as under sustained load.
   */
  warmupSeconds?: number;
  /** The tool called (default {@linkcode ECHO}). */
  call?: Call;
  /** Names the runs in timeout errors. */
  what: string;
}

/** One load run per entry of `order` (a path may come several times), the results by path. */
export async function loadRuns<P extends CallPath>(
  order: P[],
  options: LoadRunOptions<P>,
): Promise<Map<P, LoadResult[]>> {
  const out = new Map<P, LoadResult[]>();
  for (const p of order) {
    await options.before?.(p);
    if (options.warmupSeconds) await warmUp(options.pools.get(p)!, p, options.warmupSeconds, options.call);
    const result = await withTimeout(
      load(options.pools.get(p)!, p, options.seconds, options.pids(p), options.call ?? ECHO),
      options.seconds * 1000 + 60_000,
      options.what,
    );
    out.set(p, [...out.get(p) ?? [], result]);
  }
  return out;
}

/** Load runs summed: the rate, the calls, the errors, the latencies and the CPU per call. */
export interface LoadSummary {
  /** Answered calls per second over all runs. */
  callsPerSecond: number;
  /** Calls answered. */
  calls: number;
  /** Calls failed. */
  errors: number;
  /** Latency over all answered calls, ms. */
  latency: Stats;
  /** CPU per answered call, ms, for each of `names` (0 for a process a path does not have). */
  cpuMsPerCall: Record<string, number>;
}

/** Sums `runs` of one path; CPU per call for each of `names`. */
export function summarizeLoads(runs: LoadResult[], names: string[]): LoadSummary {
  const calls = runs.reduce((a, r) => a + r.calls, 0);
  return {
    callsPerSecond: calls / runs.reduce((a, r) => a + r.seconds, 0),
    calls,
    errors: runs.reduce((a, r) => a + r.errors, 0),
    latency: stats(runs.flatMap((r) => r.latencies)),
    cpuMsPerCall: Object.fromEntries(
      names.map((name) => [name, runs.reduce((a, r) => a + (r.cpuMs[name] ?? 0), 0) / calls]),
    ),
  };
}

/** CPU and wall time per call of one measured loop, in microseconds (median over rounds). */
export interface PerCall {
  /** CPU per call (user + system of this process), median of the rounds. */
  cpuUs: number;
  /** Wall time per call, median of the rounds. */
  wallUs: number;
  /** The lowest round's CPU per call: the figure least disturbed by other load on the machine. */
  minCpuUs: number;
  /** Calls measured. */
  calls: number;
}

/** Options of {@linkcode perCall}. */
export interface PerCallOptions {
  /** Calls before the measured rounds (default: one round's, at most 2,000). */
  warmup?: number;
  /** Called before each measured round. */
  round?: () => void;
}

/** Runs `fn` `calls` times in `rounds` rounds (after a warm-up), CPU and wall per call. */
export async function perCall(
  fn: (i: number) => unknown,
  calls: number,
  rounds: number,
  options: PerCallOptions = {},
): Promise<PerCall> {
  const each = Math.max(1, Math.floor(calls / rounds));
  const round = options.round;
  for (let i = 0; i < (options.warmup ?? Math.min(each, 2000)); i++) await fn(i);
  const cpu: number[] = [];
  const wall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    round?.();
    const c0 = cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < each; i++) await fn(i);
    const t = performance.now() - t0;
    const c = cpuUsage(c0);
    cpu.push((c.user + c.system) / each);
    wall.push((t * 1000) / each);
  }
  return {
    cpuUs: stats(cpu).median,
    wallUs: stats(wall).median,
    minCpuUs: Math.min(...cpu),
    calls: each * rounds,
  };
}

/** Options of {@linkcode sequentialAndLoad}. */
export interface SequentialAndLoadOptions<P extends CallPath> {
  /** Opens a session on a path. */
  connect: (path: P) => Promise<Client>;
  /** Called before each path's calls (to switch something the path needs). */
  before: (path: P) => Promise<void>;
  /** The gateway process behind a path, if any (its CPU is the `hop`). */
  hopPid: (path: P) => number | undefined;
  /** The fixture process every path ends at. */
  fixturePid: number;
  /** Seconds of load on each path before anything is timed (see {@linkcode steadySeconds}). */
  steadySeconds: number;
  /** Warm-up calls per path before the sequential ones. */
  warmup: number;
  /** Sequential calls per path, in `blocks` rotating blocks. */
  calls: number;
  blocks: number;
  /** Sessions per path under load, `seconds` per path split into `loadRounds` rotating runs. */
  concurrency: number;
  seconds: number;
  loadRounds: number;
  /** Every session opened is pushed here, for the caller to close. */
  opened: Client[];
}

/** One path's figures from {@linkcode sequentialAndLoad}. */
export interface SequentialAndLoad {
  /** Latencies of the sequential calls. */
  latency: Stats;
  /** The hop's CPU per sequential call, ms (NaN without a hop). */
  sequentialHopCpuMsPerCall: number;
  /** The load runs summed, with the hop's and the fixture's CPU per call (ms; NaN without a hop). */
  load: Omit<LoadSummary, "cpuMsPerCall"> & { hopCpuMsPerCall: number; fixtureCpuMsPerCall: number };
}

/**
 * The two measurements the policy suites make of each path, once every path had `steadySeconds` of
 * load: sequential calls on one session in rotating blocks (after a warm-up), then `concurrency`
 * sessions in short runs in rotating order, so drift in the machine's load hits every path alike.
 */
export async function sequentialAndLoad<P extends CallPath>(
  paths: P[],
  o: SequentialAndLoadOptions<P>,
): Promise<Map<P, SequentialAndLoad>> {
  const pools = await sessionPools(paths, {
    concurrency: o.concurrency,
    connect: o.connect,
    before: o.before,
    opened: o.opened,
  });
  for (const p of paths) {
    await o.before(p);
    await warmUp(pools.get(p)!, p, o.steadySeconds);
  }
  const single = new Map<P, Client>();
  for (const p of paths) {
    const client = await o.connect(p);
    o.opened.push(client);
    single.set(p, client);
    await o.before(p);
    await withTimeout(sequential(client, p, o.warmup), 60_000, `${p.label} warm-up`);
  }
  const hop = (p: P): Record<string, number> => {
    const pid = o.hopPid(p);
    return pid === undefined ? {} : { hop: pid };
  };
  const measured = await latencyBlocks(paths, {
    client: (p) => single.get(p)!,
    calls: o.calls,
    blocks: o.blocks,
    pids: hop,
    before: o.before,
  });
  const loads = await loadRuns(Array.from({ length: o.loadRounds }, (_, r) => rotate(paths, r)).flat(), {
    pools,
    seconds: o.seconds / o.loadRounds,
    pids: (p) => ({ fixture: o.fixturePid, ...hop(p) }),
    before: o.before,
    what: "load",
  });
  return new Map(paths.map((p) => {
    const hasHop = o.hopPid(p) !== undefined;
    const { cpuMsPerCall, ...sums } = summarizeLoads(loads.get(p)!, ["fixture", "hop"]);
    return [p, {
      latency: stats(measured.latency.get(p)!),
      sequentialHopCpuMsPerCall: hasHop ? (measured.cpuMs.get(p)!.hop ?? 0) / o.calls : NaN,
      load: {
        ...sums,
        hopCpuMsPerCall: hasHop ? cpuMsPerCall.hop : NaN,
        fixtureCpuMsPerCall: cpuMsPerCall.fixture,
      },
    }];
  }));
}

/** {@linkcode sequentialAndLoad}'s figures by each path's `key`, as the policy suites' tables read them. */
export interface FiguresByKey {
  /** Latencies of the sequential calls. */
  latency: Record<string, Stats>;
  /** The load runs (see {@linkcode SequentialAndLoad.load}). */
  load: Record<string, SequentialAndLoad["load"]>;
  /** The hop's CPU per sequential call, ms (NaN without a hop). */
  sequentialHopCpuMs: Record<string, number>;
}

/** Re-keys {@linkcode sequentialAndLoad}'s result by each path's `key`. */
export function figuresByKey<P extends CallPath & { key: string }>(
  paths: readonly P[],
  runs: Map<P, SequentialAndLoad>,
): FiguresByKey {
  const pick = <T>(of: (run: SequentialAndLoad) => T) =>
    Object.fromEntries(paths.map((p) => [p.key, of(runs.get(p)!)]));
  return {
    latency: pick((run) => run.latency),
    load: pick((run) => run.load),
    sequentialHopCpuMs: pick((run) => run.sequentialHopCpuMsPerCall),
  };
}
