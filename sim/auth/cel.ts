/**
 * CEL as Authorino evaluates it in AuthConfig `when` conditions, `patternMatching` predicates and
 * `expression` values: the roots `request`, `source`, `destination`, `auth` and `metadata` bound to the
 * authorization JSON (dynamic values, as Authorino's `google.protobuf.Struct` bindings), the standard
 * library plus the strings extension (`lowerAscii`, `split`, `replace`, ...). Programs are parsed and
 * checked once by {@linkcode compileCel} and evaluated per request.
 *
 * Compiling: a token scan places syntax errors first (`cel_syntax.ts`: `@bufbuild/cel`'s parser reports
 * where it gave up), then `@bufbuild/cel` parses, `cel_checker.ts` checks as cel-go's checker does
 * (types in `cel_types.ts`, declarations in `cel_env.ts`, positions in `cel_positions.ts`), and a
 * predicate whose type is known and not `bool` is refused. Evaluating: the authorization JSON is read in
 * place through `cel_views.ts`, and results come back to JSON through `cel_conversions.ts`.
 *
 * Runtime behaviour matches cel-go on Authorino's Struct bindings: a missing key (`request.headers['x']`
 * when the request has no header `x`) is an error, not null; `has(request.headers.x)` and
 * `request.headers.exists(h, h == 'x')` test presence. Authorino skips a rule whose `when` errors and
 * denies on a `patternMatching` predicate that errors; the callers decide, {@linkcode evaluatePredicate}
 * throws {@linkcode AuthEvalError} `cel_runtime`.
 *
 * Cost: a guide predicate evaluates in 0.5-7 µs, the authorization guide's three together in under
 * 10 µs (figures in cel_test.ts). Programs are cached by source.
 *
 * @module
 */

import { type CelInput, type CelResult, isCelError, parse, plan } from "@bufbuild/cel";
import { AuthEvalError, type AuthorizationJson, CelCompileError, type CelProgram } from "./types.ts";
import { env } from "./cel_env.ts";
import { type CelWarning, Checker } from "./cel_checker.ts";
import { fromCel } from "./cel_conversions.ts";
import { positionAt, where } from "./cel_positions.ts";
import { locateSyntaxError } from "./cel_syntax.ts";
import { celBindings } from "./cel_views.ts";

export { CEL_ROOTS } from "./cel_env.ts";
export type { CelWarning } from "./cel_checker.ts";
export { positionAt } from "./cel_positions.ts";
export { locateSyntaxError } from "./cel_syntax.ts";

/** What a program is for: a predicate must be boolean (or dynamic); an expression may be anything. */
export type CelKind = "predicate" | "expression";

/** Options of {@linkcode compileCel}. */
export interface CompileCelOptions {
  /** `predicate` (default): the result must be boolean. `expression`: any value. */
  kind?: CelKind;
  /**
   * The variables the evaluator declares (default Authorino's, `CEL_ROOTS`). A root declared here but
   * absent from the evaluated input fails at evaluation, as an attribute the data plane lacks.
   */
  roots?: readonly string[];
}

type Evaluator = (ctx: Record<string, CelInput>) => CelResult;

/** A compiled program, with what it is for and what is wrong with it without stopping it compiling. */
export interface CompiledCel extends CelProgram {
  /** `predicate` or `expression`. */
  readonly kind: CelKind;
  /** E.g. a `matches` pattern RE2 rejects: cel-go reports it per evaluation, validate can report it now. */
  readonly warnings: readonly CelWarning[];
}

/**
 * A program of one of the shapes policies write most, `request.headers['name']` and its comparison
 * with a string (`==`, `!=`, either side), read straight from the input. It answers only when the
 * input is the plain case (a headers map, a string value or no value); anything else goes to the full
 * evaluator, so the answers and errors are the same (`header_fast_path` tests hold them together).
 */
type FastPath = (input: AuthorizationJson) => unknown;

/** `undefined` from a {@linkcode FastPath}: not the plain case, evaluate in full. */
const NOT_HANDLED = undefined;
/** A header the fast path did not find: the full evaluator's `no such key`. */
class MissingHeader {
  constructor(readonly name: string) {}
}

class Program implements CompiledCel {
  readonly source: string;
  readonly kind: CelKind;
  readonly warnings: readonly CelWarning[];
  readonly #run: Evaluator;
  readonly #fast: FastPath | undefined;

  constructor(source: string, kind: CelKind, run: Evaluator, warnings: CelWarning[], fast?: FastPath) {
    this.source = source;
    this.kind = kind;
    this.#run = run;
    this.warnings = warnings;
    this.#fast = fast;
  }

  evaluate(input: AuthorizationJson): unknown {
    const fast = this.#fast?.(input);
    if (fast instanceof MissingHeader) throw this.#failed(`no such key: ${fast.name}`);
    if (fast !== NOT_HANDLED) return fast;
    const result = this.#run(celBindings(input));
    if (isCelError(result)) throw this.#failed(runtimeReason(result.message));
    return fromCel(result);
  }

  #failed(reason: string): AuthEvalError {
    return new AuthEvalError(
      "cel_runtime",
      `CEL expression ${JSON.stringify(this.source.trim())} failed: ${reason}`,
    );
  }
}

/** The string constant `e` holds, if it is one. */
function stringConst(e: unknown): string | undefined {
  const k =
    (e as { exprKind?: { case?: string; value?: { constantKind?: { case?: string; value?: unknown } } } })
      ?.exprKind;
  if (k?.case !== "constExpr" || k.value?.constantKind?.case !== "stringValue") return undefined;
  return k.value.constantKind.value as string;
}

/** The header name of `request.headers['name']`, if `e` is that. */
function headerIndex(e: unknown): string | undefined {
  const k = (e as { exprKind?: { case?: string; value?: { function?: string; args?: unknown[] } } })
    ?.exprKind;
  if (k?.case !== "callExpr" || k.value?.function !== "_[_]" || k.value.args?.length !== 2) return undefined;
  const [target, index] = k.value.args;
  const t = (target as {
    exprKind?: { case?: string; value?: { field?: string; testOnly?: boolean; operand?: unknown } };
  })?.exprKind;
  if (t?.case !== "selectExpr" || t.value?.field !== "headers" || t.value.testOnly) return undefined;
  const root = (t.value.operand as { exprKind?: { case?: string; value?: { name?: string } } })?.exprKind;
  if (root?.case !== "identExpr" || root.value?.name !== "request") return undefined;
  return stringConst(index);
}

/** The fast path of a parsed expression (before the checker rewrites it), when it has one. */
function fastPathOf(expr: unknown): FastPath | undefined {
  const read = (name: string) => (input: AuthorizationJson): string | MissingHeader | undefined => {
    const headers = (input.request as { headers?: unknown } | undefined)?.headers;
    if (typeof headers !== "object" || headers === null || Array.isArray(headers)) return NOT_HANDLED;
    if (!Object.hasOwn(headers, name)) return new MissingHeader(name);
    const value = (headers as Record<string, unknown>)[name];
    return typeof value === "string" ? value : NOT_HANDLED;
  };
  const single = headerIndex(expr);
  if (single !== undefined) return read(single);
  const k = (expr as { exprKind?: { case?: string; value?: { function?: string; args?: unknown[] } } })
    ?.exprKind;
  const fn = k?.case === "callExpr" ? k.value?.function : undefined;
  if ((fn !== "_==_" && fn !== "_!=_") || k?.value?.args?.length !== 2) return undefined;
  const [a, b] = k.value.args;
  const name = headerIndex(a) ?? headerIndex(b);
  const literal = headerIndex(a) !== undefined ? stringConst(b) : stringConst(a);
  if (name === undefined || literal === undefined) return undefined;
  const get = read(name);
  const equal = fn === "_==_";
  return (input) => {
    const value = get(input);
    return typeof value === "string" ? (value === literal) === equal : value;
  };
}

/**
 * Parses and checks `source` once; the returned program is evaluated per request. Throws
 * {@linkcode CelCompileError} (with a 1-based position when one is known) for a syntax error, an
 * undeclared identifier or function, a call no overload accepts, or a predicate whose type is known and
 * not boolean.
 */
export function compileCel(source: string, options: CompileCelOptions = {}): CompiledCel {
  const kind = options.kind ?? "predicate";
  // Programs are immutable, so policies that repeat a predicate (and each reload of the same policy)
  // share one; compiling costs about a millisecond.
  const key = `${kind}\u0000${options.roots?.join(",") ?? ""}\u0000${source}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const program = compileUncached(source, kind, options.roots);
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, program);
  return program;
}

const MAX_COMPILED = 1024;
const compiled = new Map<string, CompiledCel>();

function compileUncached(source: string, kind: CelKind, roots?: readonly string[]): CompiledCel {
  if (source.trim() === "") throw new CelCompileError(source, "The CEL expression is empty");
  const syntax = locateSyntaxError(source);
  if (syntax) {
    throw new CelCompileError(
      source,
      `Syntax error at ${where(syntax.position)}: ${syntax.problem}`,
      syntax.position,
    );
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (e) {
    const location = (e as { location?: { start?: { line: number; column: number } } }).location?.start;
    const raw = (e as { rawMessage?: string }).rawMessage ?? (e as Error).message;
    const position = location ? { line: location.line, column: location.column } : undefined;
    throw new CelCompileError(
      source,
      `Syntax error${position ? ` at ${where(position)}` : ""}: ${raw.replace(/^<input>:\d+:\d+: /, "")}`,
      position,
    );
  }
  // Before the checker, which rewrites the tree (roots as `dyn(...)`).
  const fast = roots === undefined || roots.includes("request") ? fastPathOf(parsed.expr) : undefined;
  const checker = new Checker(source, parsed.sourceInfo?.positions ?? {}, roots);
  const type = checker.check(parsed.expr, new Map());
  if (kind === "predicate" && type !== "bool" && type !== "dyn") {
    throw new CelCompileError(
      source,
      `A predicate must be boolean, this expression is of type ${type}`,
      positionAt(source, 0),
    );
  }
  const run = plan(env, parsed) as unknown as Evaluator;
  return new Program(source, kind, run, checker.warnings, fast);
}

/** Compiles a predicate (the result must be boolean). Shorthand for `compileCel(source, { kind: "predicate" })`. */
export function compilePredicate(source: string): CompiledCel {
  return compileCel(source, { kind: "predicate" });
}

/**
 * Evaluates a predicate; a result that is not a boolean, or a runtime error (no such key, no matching
 * overload, ...), throws {@linkcode AuthEvalError} `cel_runtime` naming the expression.
 */
export function evaluatePredicate(program: CelProgram, input: AuthorizationJson): boolean {
  const result = program.evaluate(input);
  if (typeof result !== "boolean") {
    throw new AuthEvalError(
      "cel_runtime",
      `CEL predicate ${JSON.stringify(program.source.trim())} gave ${describe(result)}, not a boolean`,
    );
  }
  return result;
}

/** Evaluates an expression to a JSON value (ints as numbers, lists as arrays, maps as objects). */
export function evaluateExpression(program: CelProgram, input: AuthorizationJson): unknown {
  return program.evaluate(input);
}

function runtimeReason(message: string): string {
  return message.replace(/^field not found: /, "no such key: ").replace(
    /^unbound function: /,
    "no such function: ",
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value === "number" ? "the number" : `the ${typeof value}`} ${JSON.stringify(value)}`;
}
