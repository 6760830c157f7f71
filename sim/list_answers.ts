/**
 * Lists served again and again, kept with their JSON text while what decides them is unchanged: a
 * `tools/list` of thousands of tools is an array of thousands of entries and megabytes of JSON, and
 * every session of a gateway lists the same few of them (one per virtual server, wristband outcome
 * and discovery scope) until the catalog changes.
 *
 * An answer is found by identity: its generation (the objects a gateway replaces, never changes in
 * place, when its catalog or config changes: the catalog, the config, the meta-tools) and its view
 * (the virtual server's config object, the wristband's outcome, the session's scope set). No key is
 * a value a client sends, so a client cannot make the cache hold more than `max` answers, and an
 * answer is only ever served for the very view it was built for.
 *
 * @module
 */

/** One list and its JSON text. */
export interface ListAnswer<T> {
  /** The list; shared by every request served from the cache, so never changed. */
  items: readonly T[];
  /** `JSON.stringify(items)` as UTF-8. */
  json: Uint8Array;
}

interface Entry<T> extends ListAnswer<T> {
  view: readonly unknown[];
}

const encoder = new TextEncoder();

/**
 * The lists of one gateway by generation and view (see the module doc). Answers of an older
 * generation are dropped when a newer one is asked for: a gateway's generation only moves forward.
 * The `max` most recently used views are kept.
 */
export class ListAnswerCache<T> {
  readonly #max: number;
  #generation: readonly unknown[] = [];
  #entries: Entry<T>[] = [];

  /** A cache of at most `max` views (default 8). */
  constructor(max = 8) {
    this.#max = max;
  }

  /** Answers held now. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * The answer for `view` of `generation` (each a list of objects compared by identity), made by
   * `build` when none is held. What `build` returns must not be changed afterwards.
   */
  answer(generation: readonly unknown[], view: readonly unknown[], build: () => T[]): ListAnswer<T> {
    if (!sameItems(generation, this.#generation)) {
      this.#generation = [...generation];
      this.#entries = [];
    }
    const at = this.#entries.findIndex((e) => sameItems(e.view, view));
    if (at >= 0) {
      const entry = this.#entries[at];
      if (at > 0) {
        this.#entries.splice(at, 1);
        this.#entries.unshift(entry);
      }
      return entry;
    }
    const items = build();
    const entry = { view: [...view], items, json: encoder.encode(JSON.stringify(items)) };
    this.#entries.unshift(entry);
    if (this.#entries.length > this.#max) this.#entries.pop();
    return entry;
  }
}

/** Whether `a` and `b` hold the very same items (by identity) in the same order. */
export function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
