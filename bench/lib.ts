/**
 * Shared parts of the benchmark harness: what a suite gets and hands back, statistics, timed
 * subprocesses that are always cleaned up, long-running server subprocesses, machine information and
 * result tables. Suites import this, never `main.ts`, which imports them.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";

/** Absolute path of the repository root, with a trailing slash. */
export const ROOT: string = new URL("../", import.meta.url).pathname;

/** The real kubectl built by the test cluster build. */
export const KUBECTL: string = `${ROOT}test/cluster/bin/kubectl`;

/** The `deno` binary running this harness, so children use the same version. */
export const DENO: string = Deno.execPath();

/** A table of one suite's results. */
export interface Table {
  /** Heading above the table. */
  title: string;
  /** Column headings. */
  columns: string[];
  /** Cells, already formatted. */
  rows: string[][];
}

/** What every suite gets. */
export interface SuiteContext {
  /** Short smoke run: few repetitions. */
  quick: boolean;
  /** A temporary directory of this run, removed at the end. */
  tmp: string;
  /** `--sim PATH/mod.ts`: the simulator copy the gateway and auth suites run instead of `sim/mod.ts`. */
  sim?: string;
}

/** What a suite hands back: tables for people, data for machines, notes on how it ran. */
export interface SuiteResult {
  /** Suite name. */
  name: string;
  /** When the suite started (ISO 8601). */
  startedAt: string;
  /** Wall time of the whole suite, seconds. */
  seconds: number;
  /** Load average (1, 5, 15 min) when the suite started and ended. */
  loadavg: { start: number[]; end: number[] };
  /** Tables for latest.md. */
  tables: Table[];
  /** Conditions, caveats and findings, one sentence each. */
  notes: string[];
  /** Every measured figure. */
  data: Record<string, unknown>;
  /** Set when the suite failed; its tables hold what was measured before. */
  error?: string;
}

/** Summary statistics of a sample, in the sample's unit. */
export interface Stats {
  n: number;
  min: number;
  median: number;
  mean: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentile of a sorted sample. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Summarises a sample. */
export function stats(sample: number[]): Stats {
  const sorted = [...sample].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1);
  const median = sorted.length % 2 === 1
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  return {
    n: sorted.length,
    min: sorted[0] ?? NaN,
    median: sorted.length ? median : NaN,
    mean: sorted.length ? mean : NaN,
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? NaN,
  };
}

/** Formats milliseconds with a precision that suits their size. */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

/** Formats CPU milliseconds per call with three decimals, `-` where there is none (NaN). */
export function cpuMs(value: number): string {
  return Number.isFinite(value) ? value.toFixed(3) : "-";
}

/** Formats microseconds with one decimal. */
export function us(value: number): string {
  return `${value.toFixed(1)} µs`;
}

/** Formats a ratio such as `1.42x`, with `digits` after the point. */
export function ratio(value: number, digits = 2): string {
  return Number.isFinite(value) ? `${value.toFixed(digits)}x` : "n/a";
}

/** Formats a count with thousands separators. */
export function count(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return "n/a";
  return value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** Formats bytes as KiB or MiB. */
export function bytes(value: number): string {
  if (!Number.isFinite(value)) return "n/a";
  const abs = Math.abs(value);
  if (abs >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`;
  if (abs >= 1024) return `${(value / 1024).toFixed(1)} KiB`;
  return `${value.toFixed(0)} B`;
}

/**
 * Reads response bodies to their end into one buffer it keeps, as a lean client would. Deno's
 * `res.bytes()` reads into a new zeroed 64 KiB buffer for every read and then copies them all: for
 * a 1.6 MiB `tools/list` answer that made this process, not the server, most of the measured time,
 * and made it swing between about 1.6 and 6 ms by whether a GC ran. Not for concurrent bodies.
 */
export class BodyDrain {
  #buffer = new ArrayBuffer(64 * 1024);

  /** Reads `body` to its end; the bytes, valid until the next call. */
  async read(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
    if (!body) return new Uint8Array(0);
    const reader = body.getReader({ mode: "byob" });
    let length = 0;
    for (;;) {
      if (length === this.#buffer.byteLength) {
        const grown = new ArrayBuffer(this.#buffer.byteLength * 2);
        new Uint8Array(grown).set(new Uint8Array(this.#buffer));
        this.#buffer = grown;
      }
      const { done, value } = await reader.read(
        new Uint8Array(this.#buffer, length, Math.min(64 * 1024, this.#buffer.byteLength - length)),
      );
      // The read takes the buffer over and hands it back in `value`, also at the end.
      if (value) this.#buffer = value.buffer as ArrayBuffer;
      if (done) break;
      length += value.byteLength;
    }
    return new Uint8Array(this.#buffer, 0, length);
  }
}

/** Resolves after `msec` milliseconds. */
export function sleep(msec: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msec));
}

/** Rejects with a message naming `what` unless `promise` settles within `msec`. */
export async function withTimeout<T>(promise: Promise<T>, msec: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${msec} ms`)), msec);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Outcome of one finished command. */
export interface RunResult {
  code: number;
  /** Wall time from spawn to exit, milliseconds. */
  ms: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCommand}. */
export interface RunOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Kill the command after this many milliseconds (default 120000). */
  timeoutMs?: number;
  /** Keep standard output (default: discarded, as a user's terminal would not slow it down much). */
  captureStdout?: boolean;
}

const decoder = new TextDecoder();

/** Runs a command to completion, timing it from spawn to exit; killed when it overruns. */
export async function runCommand(cmd: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 120_000);
  const t0 = performance.now();
  const child = new Deno.Command(cmd, {
    args,
    cwd: options.cwd ?? ROOT,
    env: options.env,
    stdin: "null",
    stdout: options.captureStdout ? "piped" : "null",
    stderr: "piped",
    signal: timeout,
  }).spawn();
  const out = await child.output();
  const elapsed = performance.now() - t0;
  if (timeout.aborted) {
    throw new Error(`${cmd} ${args.join(" ")} was killed after ${options.timeoutMs ?? 120_000} ms`);
  }
  return {
    code: out.code,
    ms: elapsed,
    stdout: options.captureStdout ? decoder.decode(out.stdout) : "",
    stderr: decoder.decode(out.stderr),
  };
}

/** A long-running child process (a server) whose output is read line by line. */
export class Server {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #stderr = "";
  #exited = false;
  /** Resolves with the exit status once the process is gone. */
  readonly status: Promise<Deno.CommandStatus>;

  constructor(readonly name: string, cmd: string, args: string[], cwd = ROOT) {
    this.#child = new Deno.Command(cmd, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    live.add(this);
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      live.delete(this);
      this.#wake();
      return s;
    });
    void this.#pump(this.#child.stdout, (line) => {
      // Bounded: a peer that logs every request must not grow the harness while nobody waits for a line.
      if (this.#lines.length >= 10_000) this.#lines.shift();
      this.#lines.push(line);
      this.#wake();
    });
    void this.#pump(this.#child.stderr, (line) => {
      // Keep the tail only: a chatty server must not grow the harness without bound.
      this.#stderr = (this.#stderr + line + "\n").slice(-4000);
    });
  }

  /** Process id (the `deno` process itself, not a shell). */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** The last few kilobytes of standard error. */
  get stderr(): string {
    return this.#stderr;
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }

  async #pump(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
    let buffer = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          onLine(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
    } catch {
      // The process died; its status says how.
    }
    if (buffer) onLine(buffer);
  }

  /** Waits for a stdout line matching `pattern` (consuming lines up to it) and returns its match. */
  async waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#lines.length) {
        const m = this.#lines.shift()!.match(pattern);
        if (m) return m;
      }
      if (this.#exited) {
        throw new Error(`${this.name} exited before printing ${pattern}: ${this.#stderr.trim()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `${this.name} did not print ${pattern} within ${timeoutMs} ms: ${this.#stderr.trim()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Sends a signal, ignoring a process that is already gone. */
  signal(sig: Deno.Signal): void {
    if (this.#exited) return;
    try {
      this.#child.kill(sig);
    } catch {
      // Already exited.
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    if (this.#exited) return;
    this.signal("SIGTERM");
    const timer = setTimeout(() => this.signal("SIGKILL"), graceMs);
    try {
      await this.status;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resident set size from `/proc/PID/status` (VmRSS), bytes. */
  async rss(): Promise<number> {
    return await rssOf(this.pid);
  }

  /**
   * Asks a bench server to run a full garbage collection (SIGUSR2; the server answers `gc done BYTES`
   * once finished), so that RSS reflects what is retained, not garbage not yet collected. Returns the
   * V8 heap in use after it, bytes.
   */
  async collectGarbage(): Promise<number> {
    this.signal("SIGUSR2");
    const m = await this.waitFor(/^gc (?:done (\d+)|unavailable)$/, 10_000);
    if (!m[1]) throw new Error(`${this.name} cannot run gc(): start it with --v8-flags=--expose-gc`);
    return Number(m[1]);
  }
}

/** Every server child still running; {@linkcode stopAll} ends them. */
const live = new Set<Server>();

/** Stops every server child this process started. */
export async function stopAll(): Promise<void> {
  await Promise.allSettled([...live].map((s) => s.stop()));
}

/** Resident set size of a process, from `/proc/PID/status` (VmRSS), bytes. */
export async function rssOf(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/^VmRSS:\s+(\d+)\s+kB$/m);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** CPU time (user + system) a process has used, milliseconds, from `/proc/PID/stat`. */
export async function cpuMsOf(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux.
}

/** Where and under what load a run happened. */
export interface MachineInfo {
  date: string;
  hostname: string;
  os: string;
  cpuModel: string;
  cores: number;
  memoryTotalBytes: number;
  deno: string;
  v8: string;
  typescript: string;
  kubectl: string;
  loadavg: number[];
}

/** Collects {@linkcode MachineInfo}. */
export async function machineInfo(): Promise<MachineInfo> {
  let cpuModel = "unknown";
  try {
    const cpuinfo = await Deno.readTextFile("/proc/cpuinfo");
    cpuModel = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? cpuModel;
  } catch {
    // Not Linux.
  }
  let kubectl = "not built";
  try {
    const r = await runCommand(KUBECTL, ["version", "--client", "-o", "json"], {
      captureStdout: true,
      timeoutMs: 10_000,
    });
    kubectl = JSON.parse(r.stdout).clientVersion.gitVersion;
  } catch {
    // Reported as not built.
  }
  return {
    date: new Date().toISOString(),
    hostname: Deno.hostname(),
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    cpuModel,
    cores: navigator.hardwareConcurrency,
    memoryTotalBytes: Deno.systemMemoryInfo().total,
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    typescript: Deno.version.typescript,
    kubectl,
    loadavg: Deno.loadavg(),
  };
}

/** Renders a table as GitHub-flavoured Markdown. */
export function markdownTable(table: Table): string {
  const escape = (cell: string) => cell.replaceAll("|", "\\|");
  const lines = [
    `| ${table.columns.map(escape).join(" | ")} |`,
    `| ${table.columns.map((_, i) => (i === 0 ? "---" : "---:")).join(" | ")} |`,
    ...table.rows.map((row) => `| ${row.map(escape).join(" | ")} |`),
  ];
  return lines.join("\n");
}

/** Renders a table as aligned plain text for the terminal. */
export function textTable(table: Table): string {
  const widths = table.columns.map((c, i) =>
    Math.max(c.length, ...table.rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [table.title, line(table.columns), ...table.rows.map(line)].join("\n");
}

/** A way from the clients to the fixture's tools, as the gateway suites call them. */
export interface CallPath {
  /** Name in tables and errors. */
  label: string;
  /** Prepended to the fixture's tool names (a registration's prefix on a gateway path). */
  prefix: string;
}

/** A tools/call and the text it must answer. */
export interface Call {
  /** The fixture's tool name (the path's prefix is prepended). */
  tool: string;
  /** The arguments for one call. */
  args: (message: string) => Record<string, unknown>;
  /** The text the call must answer. */
  expect: (message: string) => string;
}

/** The fixture's `echo`: no work, pure protocol and hop cost. */
export const ECHO: Call = { tool: "echo", args: (message) => ({ message }), expect: (message) => message };
/** A tool that does 5 ms of work (a timer) before answering, without progress notifications. */
export const SLEEP_5MS: Call = {
  tool: "sleep",
  args: () => ({ ms: 5, steps: 1 }),
  expect: () => "slept 5ms",
};

/** Starts a bench server script and waits for its `listening NAME URL` line. */
export async function startServer(
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

/** One tools/call of `call` on `path`; throws unless it answers the expected text. */
export async function callOnce(
  client: Client,
  path: CallPath,
  message: string,
  call: Call = ECHO,
): Promise<void> {
  const name = path.prefix + call.tool;
  const r = await client.callTool({ name, arguments: call.args(message) }, undefined, { timeout: 10_000 });
  const content = r.content as Array<{ type: string; text?: string }>;
  if (r.isError || content?.[0]?.text !== call.expect(message)) {
    throw new Error(`${path.label} ${name} answered ${JSON.stringify(r).slice(0, 200)}`);
  }
}

/** Sequential calls on one session; returns per-call latencies in ms. */
export async function sequential(
  client: Client,
  path: CallPath,
  calls: number,
  call: Call = ECHO,
): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now();
    await callOnce(client, path, `m${i}`, call);
    out.push(performance.now() - t0);
  }
  return out;
}

/** What {@linkcode load} measured. */
export interface LoadResult {
  /** Calls answered as expected. */
  calls: number;
  /** Calls that failed. */
  errors: number;
  /** Wall time of the load, seconds. */
  seconds: number;
  /** Each answered call's latency, ms. */
  latencies: number[];
  /** CPU each measured process used during the load, ms, by the names `pids` gave. */
  cpuMs: Record<string, number>;
}

/** `clients` sessions calling in a loop for `seconds`; counts completed calls. */
export async function load(
  clients: Client[],
  path: CallPath,
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

/** `list` rotated left by `n`: in block n every path takes its turn first. */
export const rotate = <T>(list: T[], n: number): T[] => list.map((_, i) => list[(i + n) % list.length]);

/** A suite's targets as `deno task bench` collects them into latest.md's summary: target, measured, verdict. */
export function targetsTable(title: string, rows: [target: string, measured: string, met: boolean][]): Table {
  return {
    title: `Targets (${title}; reported, not asserted)`,
    columns: ["target", "measured", "verdict"],
    rows: rows.map(([target, measured, met]) => [target, measured, met ? "met" : "NOT met"]),
  };
}
