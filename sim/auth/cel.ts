/**
 * CEL as Authorino evaluates it in AuthConfig `when` conditions, `patternMatching` predicates and
 * `expression` values: the roots `request`, `source`, `destination`, `auth` and `metadata` bound to the
 * authorization JSON (dynamic values, as Authorino's `google.protobuf.Struct` bindings), the standard
 * library plus the strings extension (`lowerAscii`, `split`, `replace`, ...). Programs are parsed and
 * checked once by {@linkcode compileCel} and evaluated per request.
 *
 * `@bufbuild/cel` ships a parser and an evaluator but no public type checker, so the checker here does
 * what cel-go's does for these dynamic bindings: undeclared identifiers and functions, calls no overload
 * accepts for the argument types known statically, and predicates whose result type is known and not
 * `bool`. Its parser reports where it gave up rather than where the error is, so syntax errors are
 * located by a token scan first ({@linkcode locateSyntaxError}).
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

import {
  celEnv,
  type CelInput,
  celMethod,
  CelScalar,
  isCelError,
  isCelList,
  isCelMap,
  isCelUint,
  parse,
  plan,
} from "@bufbuild/cel";
import type { CelResult, CelType, CelValue } from "@bufbuild/cel";
import { strings } from "@bufbuild/cel/ext";
import { compileRegex, RegexSyntaxError } from "./regex.ts";
import { AuthEvalError, type AuthorizationJson, CelCompileError, type CelProgram } from "./types.ts";

/** What a program is for: a predicate must be boolean (or dynamic); an expression may be anything. */
export type CelKind = "predicate" | "expression";

/** Options of {@linkcode compileCel}. */
export interface CompileCelOptions {
  /** `predicate` (default): the result must be boolean. `expression`: any value. */
  kind?: CelKind;
}

/** The roots Authorino binds (pkg/expressions/cel: `metadata`, `request`, `source`, `destination`, `auth`). */
export const CEL_ROOTS: readonly string[] = ["request", "source", "destination", "auth", "metadata"];

// `matches` compiles its pattern on every call in `@bufbuild/cel`; the cached RE2 engine makes it once.
// cel-go's strings extension (which Authorino loads) also has `reverse`, which `@bufbuild/cel` lacks.
const reverse = celMethod("reverse", CelScalar.STRING, [], CelScalar.STRING, function (this: string) {
  return [...this].reverse().join("");
});
const env = celEnv({ funcs: [...strings, reverse], re2: { compile: compileRegex } });

type Evaluator = (ctx: Record<string, CelInput>) => CelResult;

/** Something that compiles but fails whenever it is evaluated (Authorino accepts it the same way). */
export interface CelWarning {
  /** Sentence-case description. */
  message: string;
  /** 1-based position in the source. */
  position?: { line: number; column: number };
}

/** A compiled program, with what it is for and what is wrong with it without stopping it compiling. */
export interface CompiledCel extends CelProgram {
  /** `predicate` or `expression`. */
  readonly kind: CelKind;
  /** E.g. a `matches` pattern RE2 rejects: cel-go reports it per evaluation, validate can report it now. */
  readonly warnings: readonly CelWarning[];
}

class Program implements CompiledCel {
  readonly source: string;
  readonly kind: CelKind;
  readonly warnings: readonly CelWarning[];
  readonly #run: Evaluator;

  constructor(source: string, kind: CelKind, run: Evaluator, warnings: CelWarning[]) {
    this.source = source;
    this.kind = kind;
    this.#run = run;
    this.warnings = warnings;
  }

  evaluate(input: AuthorizationJson): unknown {
    const result = this.#run(bindings(input));
    if (isCelError(result)) {
      throw new AuthEvalError(
        "cel_runtime",
        `CEL expression ${JSON.stringify(this.source.trim())} failed: ${runtimeReason(result.message)}`,
      );
    }
    return fromCel(result);
  }
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
  const key = `${kind}\u0000${source}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const program = compileUncached(source, kind);
  if (compiled.size >= MAX_COMPILED) compiled.clear();
  compiled.set(key, program);
  return program;
}

const MAX_COMPILED = 1024;
const compiled = new Map<string, CompiledCel>();

function compileUncached(source: string, kind: CelKind): CompiledCel {
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
  const checker = new Checker(source, parsed.sourceInfo?.positions ?? {});
  const type = checker.check(parsed.expr, new Map());
  if (kind === "predicate" && type !== "bool" && type !== "dyn") {
    throw new CelCompileError(
      source,
      `A predicate must be boolean, this expression is of type ${type}`,
      positionAt(source, 0),
    );
  }
  const run = plan(env, parsed) as unknown as Evaluator;
  return new Program(source, kind, run, checker.warnings);
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

// Authorino marshals the authorization JSON with `omitempty`: empty maps under `auth` are absent, so
// `has(auth.metadata.x)` without any metadata is an error there, as it is here.
function bindings(input: AuthorizationJson): Record<string, CelInput> {
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

function toCelValue(v: unknown): CelInput {
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

/** Converts a CEL value to JSON, as Authorino's `ValueToJSON` (ints and uints become numbers). */
function fromCel(value: CelValue | unknown): unknown {
  if (
    value === null || typeof value === "boolean" || typeof value === "string" || typeof value === "number"
  ) {
    return value;
  }
  if (typeof value === "bigint") return Number(value);
  if (isCelUint(value)) return Number(value.value);
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(isCelUint(k) ? k.value : k)] = fromCel(v);
    return out;
  }
  if (value instanceof Uint8Array) return btoa(String.fromCharCode(...value));
  const message = (value as { message?: { $typeName?: string; seconds?: bigint; nanos?: number } }).message;
  if (message?.$typeName === "google.protobuf.Duration") {
    return celDuration(message.seconds ?? 0n, message.nanos ?? 0);
  }
  if (message?.$typeName === "google.protobuf.Timestamp") {
    return celTimestamp(message.seconds ?? 0n, message.nanos ?? 0);
  }
  if (Array.isArray(value)) return value.map(fromCel);
  if (typeof value === "object") {
    // Plain objects of the input come back as they went in (a selection such as `auth.identity`).
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return value;
    return String(value);
  }
  return value;
}

// cel-go's conversions to a JSON value: a duration as its seconds (`3600s`, `1.5s`), a timestamp in
// RFC 3339 with nanoseconds, trailing zeros dropped (Go's time.RFC3339Nano).
function celDuration(seconds: bigint, nanos: number): string {
  return `${Number(seconds) + nanos / 1e9}s`;
}

function celTimestamp(seconds: bigint, nanos: number): string {
  const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "");
  const fraction = nanos ? "." + String(nanos).padStart(9, "0").replace(/0+$/, "") : "";
  return `${iso}${fraction}Z`;
}

// ---------------------------------------------------------------------------------------------------
// Positions and syntax errors

function where(p: { line: number; column: number }): string {
  return `line ${p.line}, column ${p.column}`;
}

/** The 1-based line and column of the character at `offset` (in UTF-16 units) of `source`. */
export function positionAt(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  // Columns count code points, as cel-go's do.
  return { line, column: [...source.slice(start, end)].length + 1 };
}

interface Token {
  kind: "operand" | "ident" | "binary" | "prefix" | "open" | "close" | "dot" | "comma" | "question" | "colon";
  text: string;
  offset: number;
}

const RESERVED = new Set([
  "as",
  "break",
  "const",
  "continue",
  "else",
  "for",
  "function",
  "if",
  "import",
  "let",
  "loop",
  "package",
  "namespace",
  "return",
  "var",
  "void",
  "while",
]);

/**
 * Finds the first syntax error a left-to-right scan can place exactly: a character CEL does not have,
 * an unterminated string, unbalanced brackets, an operator with a missing operand, two operands in a
 * row, a reserved word. Returns undefined when the scan finds nothing (the parser then decides).
 */
export function locateSyntaxError(
  source: string,
): { problem: string; position: { line: number; column: number } } | undefined {
  const fail = (problem: string, offset: number) => ({ problem, position: positionAt(source, offset) });
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "/" && source[i + 1] === "/") {
      while (i < source.length && source[i] !== "\n") i++;
      continue;
    }
    const start = i;
    const stringStart = /^(?:[rR][bB]?|[bB][rR]?)?("""|'''|"|')/.exec(source.slice(i, i + 5));
    if (stringStart) {
      const quote = stringStart[1];
      const raw = /r/i.test(stringStart[0].slice(0, -quote.length));
      i += stringStart[0].length;
      let closed = false;
      while (i < source.length) {
        if (!raw && source[i] === "\\") {
          i += 2;
          continue;
        }
        if (source.startsWith(quote, i)) {
          i += quote.length;
          closed = true;
          break;
        }
        if (quote.length === 1 && source[i] === "\n") break;
        i++;
      }
      if (!closed) return fail("unterminated string literal", start);
      tokens.push({ kind: "operand", text: source.slice(start, i), offset: start });
      continue;
    }
    const number =
      /^(?:0[xX][0-9a-fA-F]+[uU]?|\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+[uU]?)/
        .exec(source.slice(i));
    if (number && !(number[0].startsWith(".") && isOperandEnd(tokens.at(-1)))) {
      i += number[0].length;
      tokens.push({ kind: "operand", text: number[0], offset: start });
      continue;
    }
    const ident = /^[_a-zA-Z][_a-zA-Z0-9]*/.exec(source.slice(i));
    if (ident) {
      i += ident[0].length;
      const word = ident[0];
      if (RESERVED.has(word)) return fail(`'${word}' is a reserved word`, start);
      if (word === "in") tokens.push({ kind: "binary", text: word, offset: start });
      else if (word === "true" || word === "false" || word === "null") {
        tokens.push({ kind: "operand", text: word, offset: start });
      } else tokens.push({ kind: "ident", text: word, offset: start });
      continue;
    }
    const op = /^(?:&&|\|\||==|!=|<=|>=|[<>+\-*/%])/.exec(source.slice(i));
    if (op) {
      i += op[0].length;
      const prefix = (op[0] === "-") && !isOperandEnd(tokens.at(-1));
      tokens.push({ kind: prefix ? "prefix" : "binary", text: op[0], offset: start });
      continue;
    }
    i++;
    if (c === "?" && (tokens.at(-1)?.text === "[" || tokens.at(-1)?.text === ".")) {
      return fail(
        `optional syntax '${
          tokens.at(-1)!.text
        }?' is not supported by the simulator (Authorino's cel-go accepts it)`,
        start - 1,
      );
    }
    if (c === "!") tokens.push({ kind: "prefix", text: c, offset: start });
    else if (c === "(" || c === "[" || c === "{") tokens.push({ kind: "open", text: c, offset: start });
    else if (c === ")" || c === "]" || c === "}") tokens.push({ kind: "close", text: c, offset: start });
    else if (c === ".") tokens.push({ kind: "dot", text: c, offset: start });
    else if (c === ",") tokens.push({ kind: "comma", text: c, offset: start });
    else if (c === "?") tokens.push({ kind: "question", text: c, offset: start });
    else if (c === ":") tokens.push({ kind: "colon", text: c, offset: start });
    else if (c === "=" || c === "&" || c === "|") {
      return fail(`unexpected '${c}' (did you mean '${c === "=" ? "==" : c + c}'?)`, start);
    } else return fail(`unexpected character '${c}'`, start);
  }

  const stack: Token[] = [];
  let prev: Token | undefined;
  for (const t of tokens) {
    const afterOperand = isOperandEnd(prev);
    switch (t.kind) {
      case "operand":
      case "ident":
        if (afterOperand && !(prev?.kind === "dot")) {
          return fail(`unexpected ${quoteToken(t)} after an operand`, t.offset);
        }
        if (prev?.kind === "dot" && t.kind !== "ident") {
          return fail(`expected a field name after '.'`, t.offset);
        }
        break;
      case "binary":
      case "question":
      case "colon":
      case "comma":
        if (!afterOperand) return fail(`expected an operand before ${quoteToken(t)}`, t.offset);
        if (t.kind === "comma" && !stack.length) return fail(`unexpected ','`, t.offset);
        break;
      case "prefix":
        if (afterOperand) return fail(`unexpected ${quoteToken(t)} after an operand`, t.offset);
        break;
      case "dot":
        if (!afterOperand && !(prev === undefined || prev.kind !== "dot")) {
          return fail(`unexpected '.'`, t.offset);
        }
        break;
      case "open":
        // `(` after an operand is a call, `[` an index; `{` after an identifier is a message literal.
        if (afterOperand && t.text === "(" && prev?.kind !== "ident") {
          return fail(`unexpected '(' after an operand`, t.offset);
        }
        stack.push(t);
        break;
      case "close": {
        const open = stack.pop();
        if (!open) return fail(`unmatched '${t.text}'`, t.offset);
        const want = open.text === "(" ? ")" : open.text === "[" ? "]" : "}";
        if (want !== t.text) {
          return fail(
            `expected '${want}' to close '${open.text}' at ${where(positionAt(source, open.offset))}`,
            t.offset,
          );
        }
        // `f()`, `[]`, `{}` and a trailing comma are fine; `(` `)` around nothing is not.
        if (!afterOperand && prev?.kind !== "comma" && !(prev === open && open.text !== "(")) {
          const isCall = prev === open && tokens[tokens.indexOf(open) - 1]?.kind === "ident";
          if (!isCall) return fail(`expected an operand before '${t.text}'`, t.offset);
        }
        break;
      }
    }
    prev = t;
  }
  if (stack.length) {
    const open = stack[stack.length - 1];
    return fail(`'${open.text}' is never closed`, open.offset);
  }
  if (prev && !isOperandEnd(prev)) {
    return fail(`the expression ends after ${quoteToken(prev)}`, prev.offset);
  }
  return undefined;
}

function isOperandEnd(t: Token | undefined): boolean {
  return t !== undefined && (t.kind === "operand" || t.kind === "ident" || t.kind === "close");
}

function quoteToken(t: Token): string {
  return `'${t.text}'`;
}

// ---------------------------------------------------------------------------------------------------
// The checker

/**
 * The static types the checker tracks, written as cel-go writes them: `int`, `string`, `list(int)`,
 * `map(string, dyn)`, ...; `dyn` is anything read from the authorization JSON.
 */
type Ty = string;

const TYPE_NAMES = new Set([
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

function tyOf(t: CelType): Ty {
  return String(t).replaceAll("google.protobuf.Timestamp", "timestamp").replaceAll(
    "google.protobuf.Duration",
    "duration",
  );
}

function isList(t: Ty): boolean {
  return t.startsWith("list(");
}

function isMap(t: Ty): boolean {
  return t.startsWith("map(");
}

// The parameters of `list(E)` or `map(K, V)`, split at the top-level comma.
function params(t: Ty): Ty[] {
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
function unify(a: Ty, b: Ty): Ty | undefined {
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

// The common type of literal elements: `list(int)` for `[1, 2]`, `list(dyn)` for `[1, 'a']`.
function common(types: Ty[]): Ty {
  let t: Ty | undefined = types.length ? types[0] : "dyn";
  for (const u of types.slice(1)) {
    t = t === undefined ? undefined : unify(t, u);
  }
  return t ?? "dyn";
}

const OPERATORS: Record<string, string> = {
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

interface Overload {
  target: Ty | undefined;
  args: Ty[];
  result: Ty;
}

const overloadCache = new Map<string, Overload[] | undefined>();

function overloads(name: string): Overload[] | undefined {
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

function fits(actual: Ty, wanted: Ty): boolean {
  return unify(actual, wanted) !== undefined;
}

// Minimal structural view of the parsed AST (cel.expr.Expr) the checker walks.
interface Expr {
  id: bigint;
  exprKind:
    | { case: "constExpr"; value: { constantKind: { case: string | undefined; value?: unknown } } }
    | { case: "identExpr"; value: { name: string } }
    | { case: "selectExpr"; value: { operand?: Expr; field: string; testOnly: boolean } }
    | { case: "callExpr"; value: { target?: Expr; function: string; args: Expr[] } }
    | { case: "listExpr"; value: { elements: Expr[] } }
    | {
      case: "structExpr";
      value: { messageName: string; entries: { keyKind: { case: string }; value?: Expr }[] };
    }
    | {
      case: "comprehensionExpr";
      value: {
        iterVar: string;
        iterVar2?: string;
        iterRange?: Expr;
        accuVar: string;
        accuInit?: Expr;
        loopCondition?: Expr;
        loopStep?: Expr;
        result?: Expr;
      };
    }
    | { case: undefined; value?: undefined };
}

class Checker {
  readonly #source: string;
  readonly #positions: Record<string, number>;

  constructor(source: string, positions: Record<string, number>) {
    this.#source = source;
    this.#positions = positions;
  }

  #fail(expr: Expr, message: string): never {
    const position = this.#position(expr);
    throw new CelCompileError(this.#source, position ? `${message} (${where(position)})` : message, position);
  }

  #nextId = 1n << 40n;

  // `@bufbuild/cel` resolves `request.headers.x` as a possibly qualified name, trying `request.headers.x`
  // and `request.headers` against the type registry before `request` on every evaluation; `dyn(request)`
  // is a plain value, which halves the cost of an attribute read.
  #wrapInDyn(expr: Expr, name: string): void {
    const ident = {
      $typeName: "cel.expr.Expr",
      id: this.#nextId++,
      exprKind: { case: "identExpr", value: { $typeName: "cel.expr.Expr.Ident", name } },
    };
    (expr as { exprKind: unknown }).exprKind = {
      case: "callExpr",
      value: { $typeName: "cel.expr.Expr.Call", function: "dyn", args: [ident] },
    };
  }

  readonly warnings: CelWarning[] = [];

  #position(expr: Expr): { line: number; column: number } | undefined {
    let offset = this.#positions[String(expr.id)];
    if (offset === undefined) return undefined;
    const k = expr.exprKind;
    if (k.case === "callExpr" && k.value.function === "_?_:_") {
      // The parser places a conditional at its start; cel-go at its `?`.
      offset = ternaryMark(this.#source, offset);
    }
    // The parser places operators and method calls at the whitespace or `.` before them.
    while (offset < this.#source.length && /[\s.]/.test(this.#source[offset])) offset++;
    return positionAt(this.#source, offset);
  }

  // cel-go compiles a `matches` pattern when it runs, so a bad literal pattern compiles and fails each
  // evaluation (a deny in patternMatching); it is a warning here, for validate.
  #checkPattern(arg: Expr | undefined): void {
    const k = arg?.exprKind;
    if (k?.case !== "constExpr" || k.value.constantKind.case !== "stringValue") return;
    try {
      compileRegex(k.value.constantKind.value as string);
    } catch (e) {
      if (!(e instanceof RegexSyntaxError)) throw e;
      const position = this.#position(arg!);
      this.warnings.push({
        message: `Invalid regular expression${position ? ` at ${where(position)}` : ""}: ${e.message}`,
        position,
      });
    }
  }

  check(e: unknown, scope: Map<string, Ty>): Ty {
    const expr = e as Expr;
    const k = expr.exprKind;
    switch (k.case) {
      case "constExpr":
        return constType(k.value.constantKind.case);
      case "identExpr": {
        const name = k.value.name;
        const local = scope.get(name);
        if (local !== undefined) return local;
        if (CEL_ROOTS.includes(name)) {
          this.#wrapInDyn(expr, name);
          return "dyn";
        }
        if (TYPE_NAMES.has(name)) return "type";
        return this.#fail(
          expr,
          `Undeclared reference to '${name}'; the roots are ${CEL_ROOTS.join(", ")}`,
        );
      }
      case "selectExpr": {
        const operand = k.value.operand ? this.check(k.value.operand, scope) : "dyn";
        if (operand !== "dyn" && !(isMap(operand) && fits(params(operand)[0], "string"))) {
          this.#fail(expr, `Type '${operand}' has no field '${k.value.field}'`);
        }
        if (k.value.testOnly) return "bool";
        return isMap(operand) ? params(operand)[1] : "dyn";
      }
      case "listExpr":
        return `list(${common(k.value.elements.map((el) => this.check(el, scope)))})`;
      case "structExpr":
        if (k.value.messageName) {
          this.#fail(expr, `Message literals are not supported ('${k.value.messageName}')`);
        }
        {
          const keys: Ty[] = [];
          const values: Ty[] = [];
          for (const entry of k.value.entries) {
            const key = (entry.keyKind as { value?: unknown }).value;
            if (key && typeof key === "object" && "exprKind" in key) keys.push(this.check(key, scope));
            if (entry.value) values.push(this.check(entry.value, scope));
          }
          return `map(${common(keys)}, ${common(values)})`;
        }
      case "comprehensionExpr": {
        const c = k.value;
        const range = c.iterRange ? this.check(c.iterRange, scope) : "dyn";
        if (range !== "dyn" && !isList(range) && !isMap(range)) {
          this.#fail(
            c.iterRange ?? expr,
            `Expression of type '${range}' cannot be the range of a comprehension (must be list, map, or dynamic)`,
          );
        }
        const accu = c.accuInit ? this.check(c.accuInit, scope) : "dyn";
        const inner = new Map(scope);
        inner.set(c.accuVar, accu);
        inner.set(c.iterVar, range === "dyn" ? "dyn" : params(range)[0]);
        if (c.iterVar2) inner.set(c.iterVar2, "dyn");
        if (c.loopCondition) this.check(c.loopCondition, inner);
        if (c.loopStep) this.check(c.loopStep, inner);
        const resultScope = new Map(scope);
        resultScope.set(c.accuVar, accu);
        const result = c.result ? this.check(c.result, resultScope) : "dyn";
        const member = existsEquals(c);
        if (member) {
          // `xs.exists(x, x == 'lit')` (the guides' header test) is `'lit' in xs`: the same answer for a
          // list or map, without a loop. `==` never fails at run time, so no error is lost either.
          (expr as { exprKind: unknown }).exprKind = {
            case: "callExpr",
            value: { $typeName: "cel.expr.Expr.Call", function: "@in", args: [member, c.iterRange] },
          };
        }
        return result;
      }
      case "callExpr":
        return this.#call(expr, k.value, scope);
      default:
        return "dyn";
    }
  }

  #call(expr: Expr, call: { target?: Expr; function: string; args: Expr[] }, scope: Map<string, Ty>): Ty {
    // `strings.quote(x)` parses as a method `quote` on an identifier `strings`: a qualified function.
    const t = call.target?.exprKind;
    if (t?.case === "identExpr" && !scope.has(t.value.name) && !CEL_ROOTS.includes(t.value.name)) {
      const qualified = `${t.value.name}.${call.function}`;
      if (overloads(qualified)) return this.#call(expr, { function: qualified, args: call.args }, scope);
    }
    const name = call.function;
    const target = call.target ? this.check(call.target, scope) : undefined;
    const args = call.args.map((a) => this.check(a, scope));
    const shown = OPERATORS[name] ? `'${OPERATORS[name]}'` : `'${name}'`;
    const noOverload = (): never =>
      this.#fail(
        expr,
        `Found no matching overload for ${shown} applied to '${target ? `${target}.` : ""}(${
          args.join(", ")
        })'`,
      );
    switch (name) {
      case "_&&_":
      case "_||_":
        if (args.some((a) => !fits(a, "bool"))) noOverload();
        return "bool";
      case "_?_:_": {
        if (!fits(args[0], "bool")) noOverload();
        return unify(args[1], args[2]) ?? noOverload();
      }
      case "_[_]":
        if (isList(args[0])) {
          if (!fits(args[1], "int") && args[1] !== "uint" && args[1] !== "double") noOverload();
          return params(args[0])[0];
        }
        if (isMap(args[0])) {
          if (!fits(args[1], params(args[0])[0])) noOverload();
          return params(args[0])[1];
        }
        if (args[0] !== "dyn") noOverload();
        return "dyn";
      // cel-go's equality and ordering take two values of one type (`1 == 1.0` does not compile);
      // `@bufbuild/cel` declares them over dyn, so the checker holds that line itself.
      case "_==_":
      case "_!=_":
        if (unify(args[0], args[1]) === undefined) noOverload();
        return "bool";
      case "_<_":
      case "_<=_":
      case "_>_":
      case "_>=_":
        if (unify(args[0], args[1]) === undefined) noOverload();
        break;
      case "@in": {
        const container = args[1];
        if (isList(container) && !fits(args[0], params(container)[0])) noOverload();
        if (isMap(container) && !fits(args[0], params(container)[0])) noOverload();
        break;
      }
      case "@not_strictly_false":
        return "bool";
    }
    if (name === "matches") this.#checkPattern(call.args[0]);
    const group = overloads(name);
    if (!group) {
      return this.#fail(expr, `Undeclared reference to ${call.target ? "method" : "function"} '${name}'`);
    }
    const matching = group.filter((o) =>
      (o.target === undefined) === (target === undefined) &&
      (target === undefined || fits(target, o.target!)) &&
      o.args.length === args.length &&
      o.args.every((want, i) => fits(args[i], want))
    );
    if (matching.length === 0) {
      if (
        group.every((o) =>
          (o.target === undefined) !== (target === undefined) || o.args.length !== args.length
        )
      ) {
        const kind = target === undefined ? "function" : "method";
        this.#fail(expr, `No ${kind} '${name}' takes ${args.length} argument${args.length === 1 ? "" : "s"}`);
      }
      noOverload();
    }
    if (name === "_+_" && isList(args[0]) && isList(args[1])) return unify(args[0], args[1]) ?? "list(dyn)";
    const results = new Set(matching.map((o) => o.result));
    return results.size === 1 ? [...results][0] : "dyn";
  }
}

// The literal of an `exists` macro whose predicate is `v == literal` (or `literal == v`), else undefined.
function existsEquals(c: {
  iterVar: string;
  iterVar2?: string;
  iterRange?: Expr;
  accuVar: string;
  accuInit?: Expr;
  loopStep?: Expr;
  result?: Expr;
}): Expr | undefined {
  if (c.iterVar2 || !c.iterRange) return undefined;
  const init = c.accuInit?.exprKind;
  if (init?.case !== "constExpr" || init.value.constantKind.value !== false) return undefined;
  const result = c.result?.exprKind;
  if (result?.case !== "identExpr" || result.value.name !== c.accuVar) return undefined;
  const step = c.loopStep?.exprKind;
  if (step?.case !== "callExpr" || step.value.function !== "_||_" || step.value.args.length !== 2) {
    return undefined;
  }
  const [accu, test] = step.value.args.map((a) => a.exprKind);
  if (accu.case !== "identExpr" || accu.value.name !== c.accuVar) return undefined;
  if (test.case !== "callExpr" || test.value.function !== "_==_" || test.value.target) return undefined;
  const [l, r] = test.value.args;
  const isVar = (e: Expr) => e.exprKind.case === "identExpr" && e.exprKind.value.name === c.iterVar;
  const isLit = (e: Expr) => e.exprKind.case === "constExpr";
  if (isVar(l) && isLit(r)) return r;
  if (isLit(l) && isVar(r)) return l;
  return undefined;
}

// The offset of the `?` of the conditional starting at `from`: the first outside strings and brackets.
function ternaryMark(source: string, from: number): number {
  let depth = 0;
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === '"' || c === "'") {
      const q = source.startsWith(c.repeat(3), i) ? c.repeat(3) : c;
      i += q.length;
      while (i < source.length && !source.startsWith(q, i)) i += source[i] === "\\" ? 2 : 1;
      i += q.length - 1;
    } else if ("([{".includes(c)) depth++;
    else if (")]}".includes(c)) depth--;
    else if (c === "?" && depth === 0) return i;
  }
  return from;
}

function constType(kind: string | undefined): Ty {
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
