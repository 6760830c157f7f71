/**
 * The CEL type checker: `@bufbuild/cel` ships a parser and an evaluator but no public checker, so this
 * does what cel-go's does for Authorino's dynamic bindings: undeclared identifiers and functions, calls
 * no overload accepts for the argument types known statically, comprehensions over what is not a list
 * or map. Its result type lets `cel.ts` refuse a predicate that is not boolean.
 *
 * @module
 */

import { CelCompileError } from "./types.ts";
import { compileRegex, RegexSyntaxError } from "./regex.ts";
import { CEL_ROOTS, OPERATORS, overloads, TYPE_NAMES } from "./cel_env.ts";
import { positionAt, ternaryMark, where } from "./cel_positions.ts";
import { common, constType, fits, isList, isMap, params, type Ty, unify } from "./cel_types.ts";

/** Something that compiles but fails whenever it is evaluated (Authorino accepts it the same way). */
export interface CelWarning {
  /** Sentence-case description. */
  message: string;
  /** 1-based position in the source. */
  position?: { line: number; column: number };
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

/**
 * Type-checks a parsed program as cel-go's checker does for dynamic bindings, throwing
 * {@linkcode CelCompileError} at the first problem and collecting {@linkcode CelWarning}s. It also
 * rewrites the AST for speed (roots as `dyn(...)`, `exists` of a literal as `in`): check before planning.
 */
export class Checker {
  readonly #source: string;
  readonly #positions: Record<string, number>;
  readonly #roots: readonly string[];

  /**
   * `positions`: the parser's offset of each expression id (`sourceInfo.positions`); `roots`: the
   * variables the evaluator declares (default Authorino's, {@linkcode CEL_ROOTS}).
   */
  constructor(source: string, positions: Record<string, number>, roots: readonly string[] = CEL_ROOTS) {
    this.#source = source;
    this.#positions = positions;
    this.#roots = roots;
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

  /** What compiles but fails whenever it runs, found by {@linkcode Checker.check}. */
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

  /** The static type of the expression `e` (a `cel.expr.Expr`) with the local variables in `scope`. */
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
        if (this.#roots.includes(name)) {
          this.#wrapInDyn(expr, name);
          return "dyn";
        }
        if (TYPE_NAMES.has(name)) return "type";
        return this.#fail(
          expr,
          `Undeclared reference to '${name}'; the roots are ${this.#roots.join(", ")}`,
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
    if (t?.case === "identExpr" && !scope.has(t.value.name) && !this.#roots.includes(t.value.name)) {
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
