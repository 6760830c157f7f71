/**
 * Lets the harness ask a bench server for a full garbage collection: on SIGUSR2 it runs a memory-reducing
 * major GC (the server must run with `--v8-flags=--expose-gc`) and prints `gc done HEAP_USED_BYTES`, or
 * `gc unavailable`.
 *
 * Memory-reducing (`flavor: "last-resort"`) because a plain `gc()` leaves V8's young generation at the
 * size the allocation rate grew it to while the sessions were opened (14 -> 27 MB for 1,000, i.e. 13 KiB
 * "per session" that no session holds); V8 shrinks it on its own once the process idles (RSS fell below
 * the starting point within 40 s, bench/results/heap_session.md). Memory per idle session is then what
 * the sessions keep, for every server the suites measure alike.
 *
 * @module
 */

/** Installs the SIGUSR2 handler; returns a function that removes it. */
export function installGcSignal(): () => void {
  const onSignal = () => {
    const gc = (globalThis as { gc?: (options?: Record<string, string>) => void }).gc;
    if (!gc) {
      console.log("gc unavailable");
      return;
    }
    // Twice: the first pass may only queue finalizers that free more on the second.
    for (let i = 0; i < 2; i++) gc({ type: "major", execution: "sync", flavor: "last-resort" });
    console.log(`gc done ${Deno.memoryUsage().heapUsed}`);
  };
  Deno.addSignalListener("SIGUSR2", onSignal);
  return () => Deno.removeSignalListener("SIGUSR2", onSignal);
}

/**
 * A bench server's life: the SIGUSR2 handler installed, resolving on the first SIGTERM or SIGINT with
 * the handler removed. Call it before printing that the server listens, so that no stop signal the
 * harness sends on that line comes before the listener.
 */
export function whileServing(): Promise<void> {
  const removeGc = installGcSignal();
  return untilStopped().then(removeGc);
}

/** Resolves on the first SIGTERM or SIGINT. */
function untilStopped(): Promise<void> {
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
