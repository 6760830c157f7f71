/**
 * The static types the CEL checker (`cel_checker.ts`) tracks, as strings written the way
 * cel-go writes them, and how two of them combine.
 *
 * @module
 */

import type { CelType } from "@bufbuild/cel";

/**
 * The static types the checker tracks, written as cel-go writes them: `int`, `string`, `list(int)`,
 * `map(string, dyn)`, ...; `dyn` is anything read from the authorization JSON.
 */
export type Ty = string;

/** A `@bufbuild/cel` type as the checker writes it (`timestamp`, not `google.protobuf.Timestamp`). */
export function tyOf(t: CelType): Ty {
  return String(t).replaceAll("google.protobuf.Timestamp", "timestamp").replaceAll(
    "google.protobuf.Duration",
    "duration",
  );
}

/** Whether `t` is a list type, `list(E)`. */
export function isList(t: Ty): boolean {
  return t.startsWith("list(");
}

/** Whether `t` is a map type, `map(K, V)`. */
export function isMap(t: Ty): boolean {
  return t.startsWith("map(");
}

/** The parameters of `list(E)` or `map(K, V)`, split at the top-level comma. */
export function params(t: Ty): Ty[] {
  const inner = t.slice(t.indexOf("(") + 1, -1);
  let depth = 0;
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === "(") depth++;
    else if (inner[i] === ")") depth--;
    else if (inner[i] === "," && depth === 0) return [inner.slice(0, i).trim(), inner.slice(i + 1).trim()];
  }
  return [inner];
}

/** The most specific type both `a` and `b` can be, or undefined when they cannot be one type. */
export function unify(a: Ty, b: Ty): Ty | undefined {
  if (a === "dyn") return b;
  if (b === "dyn" || a === b) return a;
  if (isList(a) && isList(b)) {
    const e = unify(params(a)[0], params(b)[0]);
    return e === undefined ? undefined : `list(${e})`;
  }
  if (isMap(a) && isMap(b)) {
    const [ka, va] = params(a);
    const [kb, vb] = params(b);
    const k = unify(ka, kb);
    const v = unify(va, vb);
    return k === undefined || v === undefined ? undefined : `map(${k}, ${v})`;
  }
  return undefined;
}

/** The common type of literal elements: `int` for `[1, 2]`, `dyn` for `[1, 'a']` (and for none). */
export function common(types: Ty[]): Ty {
  let t: Ty | undefined = types.length ? types[0] : "dyn";
  for (const u of types.slice(1)) {
    t = t === undefined ? undefined : unify(t, u);
  }
  return t ?? "dyn";
}

/** Whether a value of type `actual` can be passed where `wanted` is declared. */
export function fits(actual: Ty, wanted: Ty): boolean {
  return unify(actual, wanted) !== undefined;
}

/** The type of a literal, from the parser's constant kind (`int64Value` is `int`). */
export function constType(kind: string | undefined): Ty {
  switch (kind) {
    case "boolValue":
      return "bool";
    case "int64Value":
      return "int";
    case "uint64Value":
      return "uint";
    case "doubleValue":
      return "double";
    case "stringValue":
      return "string";
    case "bytesValue":
      return "bytes";
    case "nullValue":
      return "null_type";
    case "durationValue":
      return "duration";
    case "timestampValue":
      return "timestamp";
    default:
      return "dyn";
  }
}
