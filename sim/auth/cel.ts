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
 * Cost: a typical guide predicate (`!request.headers.exists(h, h == 'x-mcp-method') ||
 * request.headers['x-mcp-method'] in [...]`) evaluates in a few microseconds (see cel_test.ts).
 *
 * @module
 */

import {
  celEnv,
  type CelInput,
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
const env = celEnv({ funcs: strings, re2: { compile: compileRegex } });

type Evaluator = (ctx: Record<string, CelInput>) => CelResult;

class Program implements CelProgram {
  readonly source: string;
  readonly kind: CelKind;
  readonly #run: Evaluator;

  constructor(source: string, kind: CelKind, run: Evaluator) {
    this.source = source;
    this.kind = kind;
    this.#run = run;
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
export function compileCel(source: string, options: CompileCelOptions = {}): CelProgram {
  const kind = options.kind ?? "predicate";
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
  return new Program(source, kind, run);
}

/** Compiles a predicate (the result must be boolean). Shorthand for `compileCel(source, { kind: "predicate" })`. */
export function compilePredicate(source: string): CelProgram {
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
    request: rootView(input.request),
    source: rootView(input.source),
    destination: rootView(input.destination),
    auth: new ObjectMap(auth) as unknown as CelInput,
    metadata: extra === undefined ? EMPTY_VIEW : rootView(extra),
  };
}

// `@bufbuild/cel` copies a plain object into a Map (`Object.entries`) on every access, which made a
// header lookup cost microseconds. These views read the JSON in place; the library recognises maps and
// lists by its registered symbols (`Symbol.for`), so they are CelMaps and CelLists to it. A view keeps
// the views of its children, so one request's JSON is wrapped once however many predicates read it.
const MAP_MARK = Symbol.for("@bufbuild/cel/map");
const LIST_MARK = Symbol.for("@bufbuild/cel/list");
const roots = new WeakMap<object, CelInput>();

function rootView(v: unknown): CelInput {
  if (v === null || typeof v !== "object") return toCelValue(v);
  let view = roots.get(v);
  if (view === undefined) {
    view = toCelValue(v);
    roots.set(v, view);
  }
  return view;
}

function toCelValue(v: unknown): CelInput {
  if (v === null || typeof v !== "object") return (v === undefined ? null : v) as CelInput;
  if (Array.isArray(v)) return new ArrayView(v) as unknown as CelInput;
  const proto = Object.getPrototypeOf(v);
  if (proto === Object.prototype || proto === null) {
    return new ObjectMap(v as Record<string, unknown>) as unknown as CelInput;
  }
  return v as CelInput;
}

/** Caches child views, each with the raw value it wraps (a replaced child gets a new view). */
class Children {
  #raw = new Map<unknown, unknown>();
  #view = new Map<unknown, CelInput>();
  get(key: unknown, raw: unknown): CelInput {
    if (raw === null || typeof raw !== "object") return raw as CelInput;
    if (this.#raw.get(key) === raw) return this.#view.get(key)!;
    const view = toCelValue(raw);
    this.#raw.set(key, raw);
    this.#view.set(key, view);
    return view;
  }
}

class ObjectMap {
  readonly [MAP_MARK] = {};
  readonly #o: Record<string, unknown>;
  readonly #children = new Children();
  constructor(o: Record<string, unknown>) {
    this.#o = o;
  }
  get size(): number {
    return Object.keys(this.#o).length;
  }
  get(key: unknown): CelInput | undefined {
    if (typeof key !== "string" || !Object.hasOwn(this.#o, key)) return undefined;
    const v = this.#o[key];
    return v === undefined ? undefined : this.#children.get(key, v);
  }
  has(key: unknown): boolean {
    return typeof key === "string" && Object.hasOwn(this.#o, key) && this.#o[key] !== undefined;
  }
  keys(): IterableIterator<string> {
    return Object.keys(this.#o).filter((k) => this.#o[k] !== undefined)[Symbol.iterator]();
  }
  *values(): IterableIterator<CelInput> {
    for (const k of this.keys()) yield this.#children.get(k, this.#o[k]);
  }
  *entries(): IterableIterator<[string, CelInput]> {
    for (const k of this.keys()) yield [k, this.#children.get(k, this.#o[k])];
  }
  forEach(callback: (value: CelInput, key: string, map: ObjectMap) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) callback.call(thisArg, v, k, this);
  }
  [Symbol.iterator](): IterableIterator<[string, CelInput]> {
    return this.entries();
  }
}

const EMPTY_VIEW = new ObjectMap({}) as unknown as CelInput;

class ArrayView {
  readonly [LIST_MARK] = {};
  readonly #a: readonly unknown[];
  readonly #children = new Children();
  constructor(a: readonly unknown[]) {
    this.#a = a;
  }
  get size(): number {
    return this.#a.length;
  }
  get(index: number): CelInput | undefined {
    return index < 0 || index >= this.#a.length ? undefined : this.#children.get(index, this.#a[index]);
  }
  *values(): IterableIterator<CelInput> {
    for (let i = 0; i < this.#a.length; i++) yield this.#children.get(i, this.#a[i]);
  }
  [Symbol.iterator](): IterableIterator<CelInput> {
    return this.values();
  }
}

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
  if (Array.isArray(value)) return value.map(fromCel);
  if (typeof value === "object") {
    // Plain objects of the input come back as they went in (a selection such as `auth.identity`).
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return value;
    return String(value);
  }
  return value;
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

/** The static types the checker tracks; `dyn` is anything read from the authorization JSON. */
type Ty =
  | "bool"
  | "int"
  | "uint"
  | "double"
  | "string"
  | "bytes"
  | "null_type"
  | "list"
  | "map"
  | "type"
  | "timestamp"
  | "duration"
  | "dyn";

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
  switch (t.kind) {
    case "list":
      return "list";
    case "map":
      return "map";
    case "scalar":
      return (t.scalar === "dyn" ? "dyn" : t.scalar) as Ty;
    default: {
      const name = (t as { name?: string }).name;
      if (name === "google.protobuf.Timestamp") return "timestamp";
      if (name === "google.protobuf.Duration") return "duration";
      if (name === "type") return "type";
      return "dyn";
    }
  }
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
  return actual === "dyn" || wanted === "dyn" || actual === wanted;
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
    let offset = this.#positions[String(expr.id)];
    if (offset !== undefined) {
      // The parser places operators and method calls at the whitespace or `.` before them.
      while (offset < this.#source.length && /[\s.]/.test(this.#source[offset])) offset++;
    }
    const position = offset === undefined ? undefined : positionAt(this.#source, offset);
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

  #checkPattern(arg: Expr | undefined): void {
    const k = arg?.exprKind;
    if (k?.case !== "constExpr" || k.value.constantKind.case !== "stringValue") return;
    try {
      compileRegex(k.value.constantKind.value as string);
    } catch (e) {
      if (!(e instanceof RegexSyntaxError)) throw e;
      this.#fail(arg!, `Invalid regular expression: ${e.message}`);
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
        if (operand !== "dyn" && operand !== "map") {
          this.#fail(expr, `Type '${operand}' has no field '${k.value.field}'`);
        }
        return k.value.testOnly ? "bool" : "dyn";
      }
      case "listExpr":
        for (const el of k.value.elements) this.check(el, scope);
        return "list";
      case "structExpr":
        if (k.value.messageName) {
          this.#fail(expr, `Message literals are not supported ('${k.value.messageName}')`);
        }
        for (const entry of k.value.entries) {
          const key = (entry.keyKind as { value?: unknown }).value;
          if (key && typeof key === "object" && "exprKind" in key) this.check(key, scope);
          if (entry.value) this.check(entry.value, scope);
        }
        return "map";
      case "comprehensionExpr": {
        const c = k.value;
        const range = c.iterRange ? this.check(c.iterRange, scope) : "dyn";
        if (range !== "dyn" && range !== "list" && range !== "map") {
          this.#fail(
            c.iterRange ?? expr,
            `Expression of type '${range}' cannot be the range of a comprehension (must be list, map, or dynamic)`,
          );
        }
        const accu = c.accuInit ? this.check(c.accuInit, scope) : "dyn";
        const inner = new Map(scope);
        inner.set(c.accuVar, accu);
        inner.set(c.iterVar, "dyn");
        if (c.iterVar2) inner.set(c.iterVar2, "dyn");
        if (c.loopCondition) this.check(c.loopCondition, inner);
        if (c.loopStep) this.check(c.loopStep, inner);
        const resultScope = new Map(scope);
        resultScope.set(c.accuVar, accu);
        return c.result ? this.check(c.result, resultScope) : "dyn";
      }
      case "callExpr":
        return this.#call(expr, k.value, scope);
      default:
        return "dyn";
    }
  }

  #call(expr: Expr, call: { target?: Expr; function: string; args: Expr[] }, scope: Map<string, Ty>): Ty {
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
      case "_?_:_":
        if (!fits(args[0], "bool")) noOverload();
        return args[1] === args[2] ? args[1] : "dyn";
      case "_[_]":
        if (!fits(args[0], "list") && !fits(args[0], "map")) noOverload();
        if (args[0] === "list" && !fits(args[1], "int") && args[1] !== "uint" && args[1] !== "double") {
          noOverload();
        }
        return "dyn";
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
    const results = new Set(matching.map((o) => o.result));
    return results.size === 1 ? [...results][0] : "dyn";
  }
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
