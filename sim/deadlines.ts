/**
 * Deadlines for the request path without a timer each: every request has a body deadline and every
 * `tools/call` a timeout, and almost none of them fire, so one ticker per duration checks the
 * pending ones instead of each setting and clearing its own `setTimeout` (a timer, its list
 * entry and its clearing cost about as much as the rest of the body read). A deadline fires at
 * most a tenth of its duration (at most a second) late, never early. The ticker runs only while
 * deadlines are pending and does not keep the process alive.
 *
 * @module
 */

/** One pending deadline; see {@linkcode watchDeadline}. */
export interface Deadline {
  /** Forgets the deadline: it will not fire. */
  clear(): void;
  /** Starts the duration again from now (a progress notification resets a call's timeout). */
  restart(): void;
}

interface Entry extends Deadline {
  at: number;
  fire: () => void;
}

/** The pending deadlines of one duration and the interval that checks them. */
interface Ticker {
  pending: Set<Entry>;
  interval?: ReturnType<typeof setInterval>;
}

const tickers = new Map<number, Ticker>();

/** How often the deadlines of `ms` are checked. */
const tickOf = (ms: number) => Math.min(1000, Math.max(5, Math.floor(ms / 10)));

function tick(t: Ticker): void {
  if (!t.pending.size) {
    clearInterval(t.interval);
    t.interval = undefined;
    return;
  }
  const now = performance.now();
  for (const e of t.pending) {
    if (e.at > now) continue;
    t.pending.delete(e);
    e.fire();
  }
}

/** Calls `fire` once `ms` have passed, unless cleared first (see {@linkcode Deadline}). */
export function watchDeadline(ms: number, fire: () => void): Deadline {
  let t = tickers.get(ms);
  if (!t) tickers.set(ms, t = { pending: new Set() });
  const ticker = t;
  const entry: Entry = {
    at: performance.now() + ms,
    fire,
    clear: () => void ticker.pending.delete(entry),
    restart: () => {
      entry.at = performance.now() + ms;
      ticker.pending.add(entry);
      start();
    },
  };
  const start = () => {
    if (ticker.interval !== undefined) return;
    const interval = ticker.interval = setInterval(() => tick(ticker), tickOf(ms));
    Deno.unrefTimer(interval);
  };
  ticker.pending.add(entry);
  start();
  return entry;
}
