import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import { EXIT_SIGINT, EXIT_SIGTERM, InterruptedError, Interrupts } from "./signals.ts";

Deno.test("without a signal, run gives the work's own result or error", async () => {
  using interrupts = new Interrupts({ listen: false });
  assertEquals(await interrupts.run(Promise.resolve(7)), 7);
  await assertRejects(() => interrupts.run(Promise.reject(new Error("broken"))), Error, "broken");
  assertEquals(interrupts.signal.aborted, false);
});

Deno.test("a signal aborts with InterruptedError and wins over what the work does", async () => {
  using interrupts = new Interrupts({ listen: false });
  const work = new Promise<number>((resolve) =>
    interrupts.signal.addEventListener("abort", () => resolve(0))
  );
  interrupts.interrupt("SIGTERM");
  const error = await assertRejects(() => interrupts.run(work), InterruptedError);
  assertEquals(error.exitCode, EXIT_SIGTERM);
  assert(interrupts.signal.reason instanceof InterruptedError);
});

Deno.test("work that ignores the signal is given up after the grace period", async () => {
  using interrupts = new Interrupts({ listen: false, graceMs: 100 });
  const started = performance.now();
  const running = interrupts.run(new Promise<number>(() => {}));
  interrupts.interrupt("SIGINT");
  const error = await assertRejects(() => running, InterruptedError);
  assertEquals(error.exitCode, EXIT_SIGINT);
  const elapsed = performance.now() - started;
  assert(elapsed >= 90 && elapsed < 2000, `gave up after ${elapsed} ms`);
});

Deno.test("a second signal gives up at once", async () => {
  using interrupts = new Interrupts({ listen: false, graceMs: 60_000 });
  const running = interrupts.run(new Promise<number>(() => {}));
  interrupts.interrupt("SIGINT");
  interrupts.interrupt("SIGINT");
  const error = await assertRejects(() => running, InterruptedError);
  assertEquals(error.exitCode, EXIT_SIGINT);
});
