/**
 * The request headers an AuthPolicy reads, and whether the gateway ever sets them. Authorino sees the
 * request after the router added its `x-mcp-*` headers, with every header name in lower case (Envoy
 * lower-cases them), so a predicate or selector that reads `x-mcp-tool` (the router sets
 * `x-mcp-toolname`) or `X-Mcp-Toolname` never finds it: the rule errs on every request, or its
 * `exists(...)` guard is never true and the rule never applies.
 *
 * @module
 */

import { parse } from "@bufbuild/cel";

/**
 * Every `x-mcp-*` header of the upstream gateway (broker v0.9.0): set by the router on the requests
 * Authorino checks (`internal/routing/mcp_request.go`), by the client (the virtual server), by
 * Authorino's wristband, and for URL elicitation (`internal/headers/headers.go`).
 */
export const GATEWAY_HEADERS: readonly string[] = [
  "x-mcp-method",
  "x-mcp-toolname",
  "x-mcp-promptname",
  "x-mcp-servername",
  "x-mcp-annotation-hints",
  "x-mcp-virtualserver",
  "x-mcp-authorized",
  "x-mcp-verified-sub",
  "x-mcp-request-id",
  "x-mcp-elicitation-id",
];

/** A header an expression or selector reads, with where in its text. */
export interface HeaderRead {
  /** The header name as written. */
  name: string;
  /** 0-based offset of the name (its quote in CEL) in the expression. */
  offset: number;
}

/** Why a header read never finds a value, with the name to read instead; undefined when it can. */
export function headerProblem(
  name: string,
  headers = "Authorino's request.headers",
): { problem: string; suggestion?: string } | undefined {
  const lower = name.toLowerCase();
  if (name !== lower) {
    return {
      problem: `header names are lower case in ${headers}, so "${name}" is never there`,
      suggestion: lower.startsWith("x-mcp-") ? headerProblem(lower)?.suggestion ?? lower : lower,
    };
  }
  if (!lower.startsWith("x-mcp-") || GATEWAY_HEADERS.includes(lower)) return undefined;
  return { problem: `the gateway never sets a header "${name}"`, suggestion: closestHeader(lower) };
}

/** The gateway header a misspelt `x-mcp-*` name most likely means. */
function closestHeader(name: string): string | undefined {
  const squash = (s: string) => s.replace(/[-_]/g, "");
  const same = GATEWAY_HEADERS.find((h) => squash(h) === squash(name));
  if (same) return same;
  // x-mcp-tool, x-mcp-server, x-mcp-prompt: the router's names add "name".
  const longer = GATEWAY_HEADERS.filter((h) => h.startsWith(name));
  if (longer.length === 1) return longer[0];
  let best: string | undefined;
  let bestDistance = 4;
  for (const header of GATEWAY_HEADERS) {
    const distance = editDistance(name, header);
    if (distance < bestDistance) [best, bestDistance] = [header, distance];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

// Structural view of the parsed CEL AST (cel.expr.Expr) with only what the scan reads.
interface Expr {
  id: bigint;
  exprKind:
    | { case: "identExpr"; value: { name: string } }
    | { case: "selectExpr"; value: { operand?: Expr; field: string } }
    | { case: "callExpr"; value: { function: string; target?: Expr; args: Expr[] } }
    | { case: "constExpr"; value: { constantKind: { case: string; value: unknown } } }
    | { case: "listExpr"; value: { elements: Expr[] } }
    | {
      case: "structExpr";
      value: { entries: { value?: Expr; keyKind: { case: string; value: unknown } }[] };
    }
    | {
      case: "comprehensionExpr";
      value: {
        iterVar: string;
        iterVar2: string;
        iterRange?: Expr;
        accuInit?: Expr;
        loopCondition?: Expr;
        loopStep?: Expr;
        result?: Expr;
      };
    }
    | { case: undefined; value?: undefined };
}

/** `request.headers` or the legacy `context.request.http.headers`. */
function isHeaders(expr: Expr | undefined): boolean {
  const path: string[] = [];
  let node = expr;
  while (node?.exprKind.case === "selectExpr") {
    path.unshift(node.exprKind.value.field);
    node = node.exprKind.value.operand;
  }
  if (node?.exprKind.case !== "identExpr") return false;
  path.unshift(node.exprKind.value.name);
  const dotted = path.join(".");
  return dotted === "request.headers" || dotted === "context.request.http.headers";
}

function stringConst(expr: Expr | undefined): string | undefined {
  if (expr?.exprKind.case !== "constExpr") return undefined;
  const constant = expr.exprKind.value.constantKind;
  return constant.case === "stringValue" ? constant.value as string : undefined;
}

function children(expr: Expr): Expr[] {
  const kind = expr.exprKind;
  switch (kind.case) {
    case "selectExpr":
      return kind.value.operand ? [kind.value.operand] : [];
    case "callExpr":
      return [...(kind.value.target ? [kind.value.target] : []), ...kind.value.args];
    case "listExpr":
      return kind.value.elements;
    case "structExpr":
      return kind.value.entries.flatMap((e) => [
        ...(e.value ? [e.value] : []),
        ...(e.keyKind.case === "mapKey" ? [e.keyKind.value as Expr] : []),
      ]);
    case "comprehensionExpr": {
      const c = kind.value;
      return [c.iterRange, c.accuInit, c.loopCondition, c.loopStep, c.result].filter((e): e is Expr =>
        e !== undefined
      );
    }
    default:
      return [];
  }
}

/**
 * The header names a CEL expression reads: `request.headers['name']`, `'name' in request.headers`,
 * and a macro over the headers comparing its variable to `'name'` (`request.headers.exists(h, h ==
 * 'name')`). Undefined when the expression does not parse (its compile error is reported instead).
 */
export function celHeaderReads(source: string): HeaderRead[] | undefined {
  let parsed;
  try {
    parsed = parse(source);
  } catch {
    return undefined;
  }
  const positions = parsed.sourceInfo?.positions ?? {};
  const reads: HeaderRead[] = [];
  const add = (name: string | undefined, at: Expr) => {
    if (name !== undefined) reads.push({ name, offset: positions[String(at.id)] ?? 0 });
  };
  const visit = (expr: Expr, headerVars: ReadonlySet<string>) => {
    const kind = expr.exprKind;
    if (kind.case === "callExpr") {
      const [first, second] = kind.value.args;
      if (kind.value.function === "_[_]" && isHeaders(first)) add(stringConst(second), second);
      if (kind.value.function === "@in" && isHeaders(second)) add(stringConst(first), first);
      if (kind.value.function === "_==_" || kind.value.function === "_!=_") {
        const isVar = (e: Expr | undefined) =>
          e?.exprKind.case === "identExpr" && headerVars.has(e.exprKind.value.name);
        if (isVar(first)) add(stringConst(second), second);
        if (isVar(second)) add(stringConst(first), first);
      }
    }
    if (kind.case === "selectExpr" && isHeaders(kind.value.operand)) {
      reads.push({ name: kind.value.field, offset: positions[String(expr.id)] ?? 0 });
    }
    if (kind.case === "comprehensionExpr" && isHeaders(kind.value.iterRange)) {
      // Iterating a map binds the key (the header name) to the first variable.
      const inner = new Set([...headerVars, kind.value.iterVar]);
      for (const child of children(expr)) visit(child, child === kind.value.iterRange ? headerVars : inner);
      return;
    }
    for (const child of children(expr)) visit(child, headerVars);
  };
  visit(parsed.expr as unknown as Expr, new Set());
  return reads;
}

/**
 * The header an Authorino JSON selector reads (`request.headers.x-mcp-toolname`,
 * `context.request.http.headers.x-mcp-toolname`, modifiers after `|` or `.@` ignored), or undefined.
 */
export function selectorHeaderRead(selector: string): HeaderRead | undefined {
  // gjson: `.` separates path parts unless escaped; `|` starts a modifier chain.
  const path = selector.split("|")[0];
  const parts: { text: string; offset: number }[] = [];
  let text = "";
  let start = 0;
  for (let i = 0; i < path.length; i++) {
    if (path[i] === "\\" && i + 1 < path.length) {
      text += path[++i];
    } else if (path[i] === ".") {
      parts.push({ text, offset: start });
      text = "";
      start = i + 1;
    } else {
      text += path[i];
    }
  }
  parts.push({ text, offset: start });
  const names = parts.map((p) => p.text);
  const at = names[0] === "request" && names[1] === "headers"
    ? 2
    : names.slice(0, 4).join(".") === "context.request.http.headers"
    ? 4
    : -1;
  if (at < 0 || at >= parts.length || parts[at].text.startsWith("@")) return undefined;
  return { name: parts[at].text, offset: parts[at].offset };
}
