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
