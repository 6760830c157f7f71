/**
 * Ctrl-C and SIGTERM for the whole process: one AbortSignal that every wait of every verb listens
 * to (requests, file reads, watches, child processes, servers), and a hard stop so that a wait
 * nobody wired (or one that cannot be cancelled, such as a read of a FIFO) cannot keep the program
 * alive. `main.ts` turns the outcome into the shell's exit code for the signal.
 *
 * @module
 */

import { KubectlMcpError } from "../errors.ts";

/** The signals that end a verb. */
export type StopSignal = "SIGINT" | "SIGTERM";

/** Exit code of a program ended by SIGINT (128 + 2), as shells report it. */
export const EXIT_SIGINT = 130;
/** Exit code of a program ended by SIGTERM (128 + 15). */
export const EXIT_SIGTERM = 143;

/** How long a verb may take to stop after the first signal before the program ends without it. */
export const DEFAULT_GRACE_MS = 1000;

/**
 * The reason the process-wide signal aborts with: a request, read or child process that fails
 * because of it fails with this error, so its exit code is the signal's.
 */
export class InterruptedError extends KubectlMcpError {
  override readonly code: string = "ERR_INTERRUPTED";
  override readonly exitCode: number;
  /** The signal that arrived. */
  readonly signalName: StopSignal;

  constructor(signalName: StopSignal) {
    super(`interrupted by ${signalName}`);
    this.signalName = signalName;
    this.exitCode = signalName === "SIGINT" ? EXIT_SIGINT : EXIT_SIGTERM;
  }
}

/** Options of {@link Interrupts}. */
export interface InterruptsOptions {
  /** Milliseconds a verb gets to stop after the first signal (default {@link DEFAULT_GRACE_MS}). */
  graceMs?: number;
  /** Listen to the process's signals (default true); tests call {@link Interrupts.interrupt} instead. */
  listen?: boolean;
}

/**
 * Listens to SIGINT and SIGTERM while it is in scope. The first signal aborts {@link signal}; the
 * verb then has `graceMs` to finish, and {@link run} gives up on it after that, or at once on a
 * second signal, as kubectl does.
 */
export class Interrupts implements Disposable {
  #controller = new AbortController();
  #graceMs: number;
  #listening: boolean;
  #received?: InterruptedError;
  #timer?: ReturnType<typeof setTimeout>;
  #giveUp = Promise.withResolvers<void>();
  #onSignal = {
    SIGINT: () => this.interrupt("SIGINT"),
    SIGTERM: () => this.interrupt("SIGTERM"),
  };

  /** Starts listening (unless `listen` is false). */
  constructor(options: InterruptsOptions = {}) {
    this.#graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
    this.#listening = options.listen ?? true;
    if (this.#listening) {
      for (const [name, listener] of Object.entries(this.#onSignal)) {
        Deno.addSignalListener(name as StopSignal, listener);
      }
    }
  }

  /** Aborted by the first signal, with an {@link InterruptedError} as its reason. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** The error for the first signal received, if one was. */
  get received(): InterruptedError | undefined {
    return this.#received;
  }

  /** Handles a signal: the first aborts {@link signal} and starts the grace period, the next ends it. */
  interrupt(name: StopSignal): void {
    if (this.#received) {
      this.#giveUp.resolve();
      return;
    }
    this.#received = new InterruptedError(name);
    this.#timer = setTimeout(() => this.#giveUp.resolve(), this.#graceMs);
    this.#controller.abort(this.#received);
  }

  /**
   * Waits for `work`, or after a signal until the grace period ends, whichever comes first. After a
   * signal the result is the signal's {@link InterruptedError}, thrown, whatever `work` did.
   */
  async run<T>(work: Promise<T>): Promise<T> {
    // The work may settle after we stopped waiting for it; that must not be an unhandled rejection.
    work.catch(() => {});
    let result: T;
    try {
      result = await Promise.race([work, this.#giveUp.promise.then(() => this.#stopped())]);
    } catch (error) {
      if (this.#received) throw this.#received;
      throw error;
    }
    if (this.#received) throw this.#received;
    return result;
  }

  #stopped(): never {
    throw this.#received!;
  }

  /** Stops listening. */
  [Symbol.dispose](): void {
    // The timer exists only after a signal; the first clearTimeout loads Deno's Node timers (~15 ms).
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    if (!this.#listening) return;
    this.#listening = false;
    for (const [name, listener] of Object.entries(this.#onSignal)) {
      Deno.removeSignalListener(name as StopSignal, listener);
    }
  }
}
