/**
 * The authorization JSON as CEL programs read it: views that present its objects and arrays as
 * `@bufbuild/cel` maps and lists without copying them.
 *
 * @module
 */

import type { CelInput } from "@bufbuild/cel";
import type { AuthorizationJson } from "./types.ts";

/**
 * The variables a program runs with: the roots bound to views of `input`, read in place. Authorino
 * marshals the authorization JSON with `omitempty`: empty maps under `auth` are absent, so
 * `has(auth.metadata.x)` without any metadata is an error there, as it is here.
 */
export function celBindings(input: AuthorizationJson): Record<string, CelInput> {
  const auth: Record<string, unknown> = {};
  const a = input.auth;
  if (a.identity !== undefined && a.identity !== null) auth.identity = a.identity;
  if (a.metadata && hasKeys(a.metadata)) auth.metadata = a.metadata;
  if (a.authorization && hasKeys(a.authorization)) auth.authorization = a.authorization;
  if (a.response && hasKeys(a.response)) auth.response = a.response;
  const extra = (input as unknown as { metadata?: unknown }).metadata;
  return {
    request: toCelValue(input.request),
    source: toCelValue(input.source),
    destination: toCelValue(input.destination),
    auth: new ObjectMap(auth) as unknown as CelInput,
    metadata: extra === undefined ? EMPTY_VIEW : toCelValue(extra),
  };
}

// `@bufbuild/cel` copies a plain object into a Map (`Object.entries`) on every access, which made a
// header lookup cost microseconds. These views read the JSON in place (a fresh view per access is one
// small object, cheaper than any cache); the library recognises maps and lists by its registered
// symbols (`Symbol.for`, tested with `in`), so with the mark on their prototypes they are CelMaps and
// CelLists to it.
const MAP_MARK = Symbol.for("@bufbuild/cel/map");
const LIST_MARK = Symbol.for("@bufbuild/cel/list");

/** A JSON value as `@bufbuild/cel` reads it: objects and arrays as views over them, undefined as null. */
export function toCelValue(v: unknown): CelInput {
  if (v === null || typeof v !== "object") return (v === undefined ? null : v) as CelInput;
  if (Array.isArray(v)) return new ArrayView(v) as unknown as CelInput;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    return new ObjectMap(v as Record<string, unknown>) as unknown as CelInput;
  }
  return v as CelInput;
}

class ObjectMap {
  readonly #o: Record<string, unknown>;
  constructor(o: Record<string, unknown>) {
    this.#o = o;
  }
  get size(): number {
    return this.keysArray().length;
  }
  get(key: unknown): CelInput | undefined {
    if (typeof key !== "string" || !Object.hasOwn(this.#o, key)) return undefined;
    const v = this.#o[key];
    return v === undefined ? undefined : toCelValue(v);
  }
  has(key: unknown): boolean {
    return typeof key === "string" && Object.hasOwn(this.#o, key) && this.#o[key] !== undefined;
  }
  keysArray(): string[] {
    const keys = Object.keys(this.#o);
    for (const k of keys) if (this.#o[k] === undefined) return keys.filter((k) => this.#o[k] !== undefined);
    return keys;
  }
  keys(): IterableIterator<string> {
    return this.keysArray()[Symbol.iterator]();
  }
  *values(): IterableIterator<CelInput> {
    for (const k of this.keysArray()) yield toCelValue(this.#o[k]);
  }
  *entries(): IterableIterator<[string, CelInput]> {
    for (const k of this.keysArray()) yield [k, toCelValue(this.#o[k])];
  }
  forEach(callback: (value: CelInput, key: string, map: ObjectMap) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, CelInput]> {
    return this.entries();
  }
}
Object.defineProperty(ObjectMap.prototype, MAP_MARK, { value: {} });

const EMPTY_VIEW = new ObjectMap({}) as unknown as CelInput;

class ArrayView {
  readonly #a: readonly unknown[];
  constructor(a: readonly unknown[]) {
    this.#a = a;
  }
  get size(): number {
    return this.#a.length;
  }
  get(index: number): CelInput | undefined {
    return index < 0 || index >= this.#a.length ? undefined : toCelValue(this.#a[index]);
  }
  *values(): IterableIterator<CelInput> {
    for (let i = 0; i < this.#a.length; i++) yield toCelValue(this.#a[i]);
  }
  [Symbol.iterator](): IterableIterator<CelInput> {
    return this.values();
  }
}
Object.defineProperty(ArrayView.prototype, LIST_MARK, { value: {} });

function hasKeys(o: Record<string, unknown>): boolean {
  for (const _ in o) return true;
  return false;
}
