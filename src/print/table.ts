/**
 * kubectl-style tables: upper-case headers, columns padded to their widest cell and separated by
 * three spaces, `-o wide` columns appended, `--no-headers` honoured.
 *
 * @module
 */

/** One column of a table. */
export interface Column<T> {
  /** Header text; printed upper-case. */
  header: string;
  /** The cell text for a row. */
  value(row: T): string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
  /** Right-align the cells (counts). */
  alignRight?: boolean;
  /** Text for an empty cell: kubectl prints `<none>` for built-in columns, nothing for CRD columns. */
  empty?: string;
}

/** Options for {@link formatTable}. */
export interface TableOptions {
  /** Include the `wide` columns. */
  wide?: boolean;
  /** Leave out the header line. */
  noHeaders?: boolean;
}

const SEPARATOR = "   ";

/** Renders rows as a kubectl-style table; returns "" for no rows (callers print "No resources found"). */
export function formatTable<T>(
  columns: readonly Column<T>[],
  rows: readonly T[],
  options: TableOptions = {},
): string {
  if (rows.length === 0) return "";
  const shown = columns.filter((column) => options.wide || !column.wide);
  const cells = rows.map((row) =>
    shown.map((column) => sanitizeCell(column.value(row), column.empty ?? "<none>"))
  );
  const lines = options.noHeaders ? cells : [shown.map((column) => column.header.toUpperCase()), ...cells];
  // A reduce, not Math.max(...): a spread of 100,000 rows overflows the stack.
  const widths = shown.map((_, index) =>
    lines.reduce((max, line) => Math.max(max, displayWidth(line[index])), 0)
  );
  return lines.map((line) =>
    line.map((cell, index) => {
      const last = index === line.length - 1;
      const pad = " ".repeat(widths[index] - displayWidth(cell));
      if (shown[index].alignRight) return pad + cell;
      return last ? cell : cell + pad;
    }).join(SEPARATOR).trimEnd()
  ).join("\n") + "\n";
}

/** Cells are one line; control characters from remote data must not break the layout. */
function sanitizeCell(text: string, empty: string): string {
  // deno-lint-ignore no-control-regex
  const cleaned = text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();
  return cleaned === "" ? empty : cleaned;
}

function displayWidth(text: string): number {
  return [...text].length;
}

/** Shortens text to at most `max` characters, ending with an ellipsis when cut. */
export function truncate(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : chars.slice(0, Math.max(0, max - 1)).join("") + "…";
}
