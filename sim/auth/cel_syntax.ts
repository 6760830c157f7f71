/**
 * The syntax scan that places a CEL syntax error where cel-go does: `@bufbuild/cel`'s parser reports
 * where it gave up rather than where the error is.
 *
 * @module
 */

import { positionAt, where } from "./cel_positions.ts";

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
