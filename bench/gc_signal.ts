/**
 * Lets the harness ask a bench server for a full garbage collection: on SIGUSR2 it runs `gc()` (the
 * server must run with `--v8-flags=--expose-gc`) and prints `gc done HEAP_USED_BYTES`, or
 * `gc unavailable`.
 *
 * @module
 */

/** Installs the SIGUSR2 handler; returns a function that removes it. */
export function installGcSignal(): () => void {
  const onSignal = () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
      console.log("gc unavailable");
      return;
    }
    // Twice: the first pass may only queue finalizers that free more on the second.
    gc();
    gc();
    console.log(`gc done ${Deno.memoryUsage().heapUsed}`);
  };
  Deno.addSignalListener("SIGUSR2", onSignal);
  return () => Deno.removeSignalListener("SIGUSR2", onSignal);
}

/** Resolves on the first SIGTERM or SIGINT. */
export function untilStopped(): Promise<void> {
  const { promise, resolve } = Promise.withResolvers<void>();
  const stop = () => {
    Deno.removeSignalListener("SIGTERM", stop);
    Deno.removeSignalListener("SIGINT", stop);
    resolve();
  };
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  return promise;
}
