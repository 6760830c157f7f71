/**
 * Positions in CEL source as cel-go reports them: 1-based lines and columns counted in code points.
 *
 * @module
 */

/** A position as messages write it: `line 2, column 3`. */
export function where(p: { line: number; column: number }): string {
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

/**
 * The offset of the `?` of the conditional starting at `from`: the first outside strings and brackets
 * (`from` itself when there is none).
 */
export function ternaryMark(source: string, from: number): number {
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
