/**
 * The CEL environment Authorino evaluates in, and its declarations as the checker reads them: the roots,
 * the functions (the standard library, cel-go's strings extension) and their overloads.
 *
 * @module
 */

import { type CelEnv, celEnv, celMethod, CelScalar } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { compileRegex } from "./regex.ts";
import { type Ty, tyOf } from "./cel_types.ts";

/** The roots Authorino binds (pkg/expressions/cel: `metadata`, `request`, `source`, `destination`, `auth`). */
export const CEL_ROOTS: readonly string[] = ["request", "source", "destination", "auth", "metadata"];

// `matches` compiles its pattern on every call in `@bufbuild/cel`; the cached RE2 engine makes it once.
// cel-go's strings extension (which Authorino loads) also has `reverse`, which `@bufbuild/cel` lacks.
const reverse = celMethod("reverse", CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
  return [...this].reverse().join("");
});
/** The CEL environment Authorino's cel-go has: the standard library and the strings extension. */
export const env: CelEnv = celEnv({ funcs: [...strings, reverse], re2: { compile: compileRegex } });

/** The type names an expression may mention as values (`type(x) == string`). */
export const TYPE_NAMES: ReadonlySet<string> = new Set([
  "bool",
  "int",
  "uint",
  "double",
  "string",
  "bytes",
  "list",
  "map",
  "null_type",
  "type",
  "dyn",
]);

/** The operators as the source writes them, by their function names (`_+_` is `+`). */
export const OPERATORS: Readonly<Record<string, string>> = {
  "_+_": "+",
  "_-_": "-",
  "_*_": "*",
  "_/_": "/",
  "_%_": "%",
  "-_": "-",
  "!_": "!",
  "_==_": "==",
  "_!=_": "!=",
  "_<_": "<",
  "_<=_": "<=",
  "_>_": ">",
  "_>=_": ">=",
  "@in": "in",
  "_&&_": "&&",
  "_||_": "||",
  "_[_]": "[]",
  "_?_:_": "?:",
};

/** One overload of a function, in checker types; `target` is the receiver of a method. */
export interface Overload {
  /** The receiver's type, for a method; undefined for a global function. */
  target: Ty | undefined;
  /** The argument types. */
  args: Ty[];
  /** The result type. */
  result: Ty;
}

const overloadCache = new Map<string, Overload[] | undefined>();

/** The overloads of the function or method `name` (`strings.quote` qualified), or undefined if there is none. */
export function overloads(name: string): Overload[] | undefined {
  if (overloadCache.has(name)) return overloadCache.get(name);
  const group = env.funcs.find(name);
  const list = group
    ? [...group].map((f) => ({
      target: f.target ? tyOf(f.target) : undefined,
      args: f.arguments.map(tyOf),
      result: tyOf(f.result),
    }))
    : undefined;
  overloadCache.set(name, list);
  return list;
}
