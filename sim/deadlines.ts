/**
 * Deadlines for the request path without a timer each: every request has a body deadline and every
 * `tools/call` a timeout, and almost none of them fire, so one ticker per duration checks the
 * pending ones instead of each setting and clearing its own `setTimeout` (a timer, its list
 * entry and its clearing cost about as much as the rest of the body read). A deadline fires at
 * most a tenth of its duration (at most a second) late, never early. The ticker runs only while
 * deadlines are pending and does not keep the process alive. {@linkcode nextTurn} shares one
 * timer among the callers of one turn in the same spirit.
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

/** What a ticker holds of a deadline: when, and what to call then. */
interface Entry {
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

/** Does nothing: what a cleared entry calls. */
const NOTHING = () => {};

/**
 * Calls `fire` once `ms` have passed, unless cleared first (see {@linkcode Deadline}). A cleared
 * entry lets go of `fire`: under load the gateway's entries outlived their deadlines in V8's young
 * generation, and each `fire` made inside a request's function held all that function kept (about
 * 2 KB per `tools/call` promoted, measured with `--trace-gc-nvp`).
 */
export function watchDeadline(ms: number, fire: () => void): Deadline {
  let t = tickers.get(ms);
  if (!t) tickers.set(ms, t = { pending: new Set() });
  const ticker = t;
  let entry: Entry | undefined;
  const arm = () => {
    entry ??= { at: 0, fire };
    entry.at = performance.now() + ms;
    ticker.pending.add(entry);
    if (ticker.interval !== undefined) return;
    const interval = ticker.interval = setInterval(() => tick(ticker), tickOf(ms));
    Deno.unrefTimer(interval);
  };
  arm();
  return {
    clear: () => {
      if (!entry) return;
      ticker.pending.delete(entry);
      entry.fire = NOTHING;
      entry = undefined;
    },
    restart: arm,
  };
}

let turn: Promise<false> | undefined;

/**
 * Resolves (to `false`, for `Promise.race`) after the I/O already waiting has been handled: a read
 * that is not ready by then is not imminent. The callers that ask in one turn share one timer (a
 * timer costs about as much as the rest of reading a `tools/call` answer).
 */
export function nextTurn(): Promise<false> {
  return turn ??= new Promise<false>((resolve) =>
    setTimeout(() => {
      turn = undefined;
      resolve(false);
    }, 0)
  );
}
