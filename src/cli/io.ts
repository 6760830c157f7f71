/**
 * The process boundary a verb sees: where it reads input, writes output and finds its environment.
 * Verbs take an `Io` instead of touching `Deno.stdout` so tests can run them in-process.
 *
 * @module
 */

const encoder = new TextEncoder();

/** Streams and environment a verb runs with. */
export interface Io {
  /** Standard input, read only by verbs given `-f -`. */
  stdin: ReadableStream<Uint8Array>;
  /** Writes text to standard output as it is produced (watch and simulate stream). */
  out(text: string): void;
  /** Writes text to standard error. */
  err(text: string): void;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Whether standard output is a terminal (colour, and tables that fit the screen). */
  isTerminal: boolean;
  /** A signal aborted on Ctrl-C, for verbs that serve until interrupted. */
  signal: AbortSignal;
}

/** The real process: Deno's stdin, stdout, stderr and environment. */
export function processIo(signal: AbortSignal): Io {
  return {
    // A getter: Deno loads its web streams code on the first read of `readable`, which most verbs
    // never need.
    get stdin() {
      return Deno.stdin.readable;
    },
    out: (text) => writeAllSync(Deno.stdout, text),
    err: (text) => writeAllSync(Deno.stderr, text),
    env: (name) => Deno.env.get(name),
    isTerminal: Deno.stdout.isTerminal(),
    signal,
  };
}

function writeAllSync(target: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    const written = target.writeSync(bytes);
    bytes = bytes.subarray(written);
  }
}

/** An `Io` that collects output in memory, for in-process tests. */
export interface CapturedIo extends Io {
  /** Everything written to standard output so far. */
  readonly stdout: string;
  /** Everything written to standard error so far. */
  readonly stderr: string;
}

/** Options for {@link captureIo}. */
export interface CaptureIoOptions {
  /** Text served as standard input. */
  stdin?: string;
  /** Environment variables; nothing else is visible. */
  env?: Record<string, string>;
  /** Pretend standard output is a terminal. */
  isTerminal?: boolean;
  /** Abort signal standing in for Ctrl-C. */
  signal?: AbortSignal;
}

/** Creates an in-memory `Io` for tests. */
export function captureIo(options: CaptureIoOptions = {}): CapturedIo {
  let stdout = "";
  let stderr = "";
  const env = options.env ?? {};
  return {
    stdin: new Blob([options.stdin ?? ""]).stream(),
    out: (text) => void (stdout += text),
    err: (text) => void (stderr += text),
    env: (name) => env[name],
    isTerminal: options.isTerminal ?? false,
    signal: options.signal ?? new AbortController().signal,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
  };
}

/** Whether output to this `Io` may use ANSI colour: only on a terminal, never with NO_COLOR set. */
export function useColor(io: Io): boolean {
  const noColor = io.env("NO_COLOR");
  return io.isTerminal && (noColor === undefined || noColor === "");
}

/** Resolves when `signal` aborts (Ctrl-C for the verbs that serve until interrupted). */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
}
