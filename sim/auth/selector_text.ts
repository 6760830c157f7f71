/**
 * How selected values read as text: Go's `encoding/json` (Authorino marshals the authorization JSON
 * with it, so map keys come sorted and `<`, `>`, `&` escaped), GJSON's `Result.String()`, and the key
 * order paths see. Objects a path builds (multipaths, `@reverse`, `@join`, `@group`) are marked so
 * they keep the order GJSON wrote them in.
 *
 * @module
 */

/** A value rendered as GJSON's `Result.String()` renders it. */
export function toGjsonString(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return goJson(value);
}

/** JSON as Go's `encoding/json` writes it: compact, map keys sorted, `<`, `>`, `&`, U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  });
}

// Objects a path builds (multipaths, `@reverse`, `@join`, `@group`) keep the order GJSON wrote them in;
// every other object is the authorization JSON's, which Go wrote with sorted keys.
const built = new WeakSet<object>();

/** Marks `o` as built by a path, so {@linkcode goJson} keeps its key order; returns `o`. */
export function builtObject(o: Record<string, unknown>): Record<string, unknown> {
  built.add(o);
  return o;
}

/** Whether `o` was built by a path ({@linkcode builtObject}) rather than taken from the input. */
export function isBuilt(o: object): boolean {
  return built.has(o);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    const keys = built.has(value) ? Object.keys(value) : Object.keys(value).sort();
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/**
 * The keys of `o` that hold a value, sorted. The authorization JSON Authorino queries is Go's encoding
 * of maps: keys in sorted order, which is the order wildcards, `@keys`, `@values` and `@reverse` see.
 */
export function sortedKeys(o: object): string[] {
  return Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort();
}
