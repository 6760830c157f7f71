/**
 * Runs the real `kubectl-mcp` program as a subprocess, the way users and kubectl run it.
 *
 * @module
 */

/** The repository root. */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/** What a finished command produced. */
export interface CliResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** Options for {@link runCli}. */
export interface RunCliOptions {
  /** Text written to standard input. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory (default: the repository root). */
  cwd?: string;
  /** Kill the process after this many milliseconds (default 60 s) and fail. */
  timeoutMs?: number;
}

/** Runs `deno run -A main.ts ...args` and collects its output. */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  return await runProgram(
    Deno.execPath(),
    ["run", "-A", "--quiet", `${REPO_ROOT}/main.ts`, ...args],
    options,
  );
}

/** Runs any program and collects its output, with a hard time limit. */
export async function runProgram(
  program: string,
  args: readonly string[],
  options: RunCliOptions = {},
): Promise<CliResult> {
  const child = new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A long-running CLI process (simulate, demo) whose output a test reads as it comes. */
export interface RunningCli extends AsyncDisposable {
  /** Its process id. */
  readonly pid: number;
  /** Everything printed on standard output so far. */
  readonly stdout: string;
  /** Everything printed on standard error so far. */
  readonly stderr: string;
  /** Waits until standard output has a match for `pattern`; fails with the output after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends SIGINT (Ctrl-C), or `signal`, and waits for the exit code; SIGKILL after 10 s. */
  interrupt(signal?: Deno.Signal): Promise<number>;
}

/** Starts `program args` and collects its output while it runs. */
export function spawnProgram(
  program: string,
  args: readonly string[],
  options: RunCliOptions = {},
): RunningCli {
  const child = new Deno.Command(program, {
    args: [...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "";
  let stderr = "";
  const waiters = new Set<() => void>();
  const pump = async (stream: ReadableStream<Uint8Array>, append: (text: string) => void) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      append(chunk);
      for (const wake of waiters) wake();
    }
  };
  const pumps = Promise.all([
    pump(child.stdout, (text) => stdout += text),
    pump(child.stderr, (text) => stderr += text),
  ]);
  let exited: Promise<number> | undefined;
  const finish = () =>
    exited ??= (async () => {
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 10_000);
      const status = await child.status;
      clearTimeout(timer);
      await pumps;
      return status.code;
    })();
  return {
    pid: child.pid,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stdout.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`Timed out waiting for ${pattern}.\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async interrupt(signal: Deno.Signal = "SIGINT") {
      try {
        child.kill(signal);
      } catch {
        // Already gone.
      }
      return await finish();
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await finish();
    },
  };
}

/** Starts the CLI (`deno run -A main.ts ...args`) as a long-running process. */
export function spawnCli(args: readonly string[], options: RunCliOptions = {}): RunningCli {
  return spawnProgram(Deno.execPath(), ["run", "-A", "--quiet", `${REPO_ROOT}/main.ts`, ...args], options);
}
