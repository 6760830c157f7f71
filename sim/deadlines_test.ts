import { assert, assertEquals } from "../test/helpers/assert.ts";
import { nextTurn, watchDeadline } from "./deadlines.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("deadlines: fire once, never early and at most a tenth late; cleared ones never", async () => {
  const t0 = performance.now();
  const fired: Array<[string, number]> = [];
  watchDeadline(200, () => fired.push(["a", performance.now() - t0]));
  const b = watchDeadline(200, () => fired.push(["b", performance.now() - t0]));
  b.clear();
  for (let i = 0; i < 100 && fired.length < 1; i++) await sleep(10);
  await sleep(100);
  assertEquals(fired.map(([k]) => k), ["a"]);
  // The ticker checks every 20 ms here; timers may run late on a loaded machine, so only the
  // lower bound is exact.
  assert(fired[0][1] >= 200 && fired[0][1] < 1000, `fired after ${fired[0][1]} ms`);
});

Deno.test("deadlines: restart counts the duration again from now", async () => {
  const t0 = performance.now();
  let at = 0;
  const d = watchDeadline(150, () => at = performance.now() - t0);
  await sleep(100);
  d.restart();
  for (let i = 0; i < 100 && !at; i++) await sleep(10);
  assert(at >= 250 && at < 1500, `fired after ${at} ms`);
  // Restarted after it fired: it fires again.
  at = 0;
  const t1 = performance.now();
  d.restart();
  for (let i = 0; i < 100 && !at; i++) await sleep(10);
  assert(at - (t1 - t0) >= 150, `fired ${at - (t1 - t0)} ms after the restart`);
});

Deno.test("nextTurn: one timer for the callers of one turn, a new one after it", async () => {
  const first = nextTurn();
  assertEquals(nextTurn() === first, true);
  assertEquals(await first, false);
  assertEquals(nextTurn() === first, false);
  await nextTurn();
});
