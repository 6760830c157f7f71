/**
 * The headers the auth pipeline sees, as a plain map behind the `Headers` interface.
 *
 * The gate copies every request's headers once (it strips and adds the router's `x-mcp-*`): Deno's
 * `new Headers(headers)` costs tens of microseconds per request (its WebIDL converter walks the
 * iterator and validates each pair), and Deno's `get` and `forEach` a microsecond or more each, where
 * the whole AuthPolicy evaluation is meant to cost under fifty. {@linkcode RecordHeaders} behaves as
 * `Headers` does for what the pipeline uses: names are case-insensitive, `set`/`append` validate and
 * normalise as the Fetch standard does (throwing the same `TypeError`s), values of one name are joined
 * with `", "`, `set-cookie` values stay separate, and iteration is sorted by name.
 *
 * @module
 */

// RFC 9110 token characters: what a header name may hold.
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// The Fetch standard's HTTP whitespace, stripped from both ends of a value.
const EDGE_WHITESPACE = /^[\t\n\r ]+|[\t\n\r ]+$/g;
// What a normalised value may not hold, and what is not a ByteString.
const FORBIDDEN_VALUE = /[\0\r\n]/;
// deno-lint-ignore no-control-regex
const NOT_BYTES = /[^\x00-\xff]/;
const SET_COOKIE = "set-cookie";

/** A `Headers` over a plain map: cheap to copy and read (see the module documentation). */
export class RecordHeaders implements Headers {
  /** Lower-case name to value (several values of one name joined with `", "`), `set-cookie` aside. */
  #values = new Map<string, string>();
  /** The `set-cookie` values, each on its own as `Headers` keeps them. */
  #cookies: string[] = [];

  /** A copy of `headers` (their names and values are valid already, so not checked again). */
  static from(headers: Headers): RecordHeaders {
    const copy = new RecordHeaders();
    const values = copy.#values;
    headers.forEach((value, name) => {
      if (name === SET_COOKIE) copy.#cookies.push(value);
      else values.set(name, value);
    });
    return copy;
  }

  /** Headers from a record of lower-case names (valid already, so not checked again). */
  static fromRecord(record: Readonly<Record<string, string>>): RecordHeaders {
    const copy = new RecordHeaders();
    for (const name in record) {
      if (name === SET_COOKIE) copy.#cookies.push(record[name]);
      else copy.#values.set(name, record[name]);
    }
    return copy;
  }

  /** Appends `value` to `name`'s values. */
  append(name: string, value: string): void {
    const [key, normalised] = checked(name, value);
    this.#names = undefined;
    if (key === SET_COOKIE) {
      this.#cookies.push(normalised);
      return;
    }
    const old = this.#values.get(key);
    this.#values.set(key, old === undefined ? normalised : `${old}, ${normalised}`);
  }

  /** Removes every value of `name`. */
  delete(name: string): void {
    const key = checkedName(name);
    this.#names = undefined;
    if (key === SET_COOKIE) this.#cookies = [];
    else this.#values.delete(key);
  }

  /** The values of `name` joined with `", "`, or null. */
  get(name: string): string | null {
    const key = name.toLowerCase();
    if (key === SET_COOKIE) return this.#cookies.length ? this.#cookies.join(", ") : null;
    return this.#values.get(key) ?? null;
  }

  /** The `set-cookie` values, each on its own. */
  getSetCookie(): string[] {
    return [...this.#cookies];
  }

  /** Whether `name` has a value. */
  has(name: string): boolean {
    const key = name.toLowerCase();
    return key === SET_COOKIE ? this.#cookies.length > 0 : this.#values.has(key);
  }

  /** Replaces every value of `name` with `value`. */
  set(name: string, value: string): void {
    const [key, normalised] = checked(name, value);
    this.#names = undefined;
    if (key === SET_COOKIE) this.#cookies = [normalised];
    else this.#values.set(key, normalised);
  }

  /** Calls `callback` for each name and value, sorted by name, as `Headers.forEach` does. */
  forEach(callback: (value: string, key: string, parent: this) => void, thisArg?: unknown): void {
    for (const [name, value] of this.#sorted()) callback.call(thisArg, value, name, this);
  }

  /** The names and values, sorted by name. */
  entries(): IterableIterator<[string, string]> {
    return this.#sorted()[Symbol.iterator]();
  }

  /** The names, sorted (`set-cookie` once per value). */
  keys(): IterableIterator<string> {
    return this.#sorted().map(([name]) => name)[Symbol.iterator]();
  }

  /** The values, sorted by name. */
  values(): IterableIterator<string> {
    return this.#sorted().map(([, value]) => value)[Symbol.iterator]();
  }

  /** The names and values, sorted by name. */
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.entries();
  }

  /** The names in iteration order, kept until the next change (the pipeline reads them once or twice). */
  #names?: string[];

  #sortedNames(): string[] {
    if (!this.#names) {
      const names = [...this.#values.keys()];
      if (this.#cookies.length) names.push(SET_COOKIE);
      this.#names = names.sort();
    }
    return this.#names;
  }

  #sorted(): [string, string][] {
    const out: [string, string][] = [];
    for (const name of this.#sortedNames()) {
      if (name === SET_COOKIE) { for (const cookie of this.#cookies) out.push([name, cookie]); }
      else out.push([name, this.#values.get(name)!]);
    }
    return out;
  }
}

function checkedName(name: string): string {
  if (!TOKEN.test(name)) throw new TypeError(`Invalid header name: "${name}"`);
  return name.toLowerCase();
}

function checked(name: string, value: string): [string, string] {
  const key = checkedName(name);
  const normalised = String(value).replace(EDGE_WHITESPACE, "");
  if (NOT_BYTES.test(normalised)) {
    throw new TypeError(`The value of header "${name}" is not a valid ByteString`);
  }
  if (FORBIDDEN_VALUE.test(normalised)) throw new TypeError(`Invalid header value of "${name}"`);
  return [key, normalised];
}
