/**
 * Matching URIs against RFC 6570 URI templates without regular expressions. A template that a
 * backend lists and a URI that a client sends are both untrusted, and a backtracking regular
 * expression built from `{a}{b}{c}...` takes time exponential in the number of expressions. Here
 * a template is a list of literals and expressions, and a match keeps the set of URI positions the
 * template can have reached so far: one pass over the URI per expression, so a match costs
 * O((expressions + 1) x URI length + template length) whatever the input.
 *
 * An expression matches what its operator can expand to (RFC 6570 section 3.2), read leniently
 * (variable names, prefixes and explode modifiers are not checked):
 *
 * | operator          | matches                                                      |
 * | ----------------- | ------------------------------------------------------------ |
 * | none              | nothing, or characters other than `/`, `?` and `#`           |
 * | `+`               | anything                                                     |
 * | `#`               | nothing, or `#` and then anything                            |
 * | `.`, `;`          | nothing, or `.` (`;`) and then characters other than `/?#`   |
 * | `/`               | nothing, or `/` and then characters other than `?` and `#`   |
 * | `?`, `&`          | nothing, or `?` or `&` and then characters other than `#`    |
 *
 * @module
 */

/** Bit of a character among the ones operators exclude: `/` 1, `?` 2, `#` 4, others 0. */
function charBit(code: number): number {
  return code === 47 ? 1 : code === 63 ? 2 : code === 35 ? 4 : 0;
}

const SLASH_QUERY_FRAGMENT = 7;
const QUERY_FRAGMENT = 6;
const FRAGMENT = 4;

/** One `{...}` expression: an optional leading character, then a run of characters not excluded. */
interface Expression {
  /** Character codes one of which must open a non-empty expansion; empty when none is needed. */
  lead: number[];
  /** `charBit`s the run may not contain. */
  exclude: number;
}

const OPERATORS: Record<string, Expression> = {
  "": { lead: [], exclude: SLASH_QUERY_FRAGMENT },
  "+": { lead: [], exclude: 0 },
  "#": { lead: [35], exclude: 0 },
  ".": { lead: [46], exclude: SLASH_QUERY_FRAGMENT },
  ";": { lead: [59], exclude: SLASH_QUERY_FRAGMENT },
  "/": { lead: [47], exclude: QUERY_FRAGMENT },
  "?": { lead: [63, 38], exclude: FRAGMENT },
  "&": { lead: [63, 38], exclude: FRAGMENT },
};

/**
 * How much matching one URI against a list of templates may cost, in the units of
 * {@link UriTemplate.cost}: a million steps, about ten milliseconds. A lookup that would pass it
 * stops and finds nothing, so a backend that lists very many (or very long) templates cannot make
 * one `resources/read` expensive. Real catalogs use a small fraction of it: a 100-character URI
 * against a template with two expressions costs about 300.
 */
export const TEMPLATE_MATCH_BUDGET = 1_000_000;

/** A compiled URI template. */
export class UriTemplate {
  /** The template as listed. */
  readonly template: string;
  /** Literal text around the expressions: always one more than `#expressions`. */
  #literals: string[] = [];
  #expressions: Expression[] = [];
  /** The literals as character codes and their KMP failure tables, built on first use. */
  #patterns: Array<Uint16Array | undefined> = [];
  #failures: Array<Int32Array | undefined> = [];

  constructor(template: string) {
    this.template = template;
    let literal = "";
    let i = 0;
    while (i < template.length) {
      const open = template.indexOf("{", i);
      const close = open < 0 ? -1 : template.indexOf("}", open + 1);
      if (close < 0) {
        // An unclosed brace is text, as a template with one is not a valid template anyway.
        literal += template.slice(i);
        break;
      }
      literal += template.slice(i, open);
      this.#literals.push(literal);
      literal = "";
      const body = template.slice(open + 1, close);
      this.#expressions.push(OPERATORS[body[0]] ?? OPERATORS[""]);
      i = close + 1;
    }
    this.#literals.push(literal);
  }

  /** Number of `{...}` expressions. */
  get expressions(): number {
    return this.#expressions.length;
  }

  /**
   * The most work `match(uri)` does for a URI of `uriLength` characters, in budget units; a URI
   * that `couldMatch` refuses costs at most the template's length.
   */
  cost(uriLength: number): number {
    return (this.#expressions.length + 1) * (uriLength + 1) + this.template.length;
  }

  /** False when `uri` lacks the template's leading or trailing text (a cheap first check). */
  couldMatch(uri: string): boolean {
    const literals = this.#literals;
    const first = literals[0];
    const last = literals[literals.length - 1];
    if (literals.length === 1) return uri === first;
    return uri.length >= first.length + last.length && uri.startsWith(first) && uri.endsWith(last);
  }

  /** True when `uri` is one of the URIs this template expands to (read as the module doc says). */
  match(uri: string): boolean {
    if (!this.couldMatch(uri)) return false;
    const literals = this.#literals;
    if (literals.length === 1) return true;
    const n = uri.length;
    const codes = new Uint16Array(n);
    for (let i = 0; i < n; i++) codes[i] = uri.charCodeAt(i);
    // reached[p] = 1: the template so far can have consumed exactly the first p characters.
    let reached = new Uint8Array(n + 1);
    let next = new Uint8Array(n + 1);
    let from = literals[0].length;
    reached[from] = 1;
    const runEnds = new Map<number, Int32Array>();
    for (let k = 0; k < this.#expressions.length; k++) {
      const { lead, exclude } = this.#expressions[k];
      let ends = runEnds.get(exclude);
      if (!ends) {
        ends = runEnd(codes, exclude);
        runEnds.set(exclude, ends);
      }
      // From a start s the expression reaches every position of one interval [s, end]; a sweep
      // that keeps the furthest end seen so far marks their union in one pass.
      const lead0 = lead.length ? lead[0] : -1;
      const lead1 = lead.length > 1 ? lead[1] : lead0;
      let furthest = -1;
      for (let p = from; p <= n; p++) {
        if (reached[p] === 1) {
          reached[p] = 0;
          const end = lead0 < 0
            ? ends[p]
            : p < n && (codes[p] === lead0 || codes[p] === lead1)
            ? ends[p + 1]
            : p;
          if (end > furthest) furthest = end;
        }
        if (p <= furthest) reached[p] = 1;
      }
      if (furthest < 0) return false;
      const lit = literals[k + 1];
      if (lit.length === 0) continue;
      next.fill(0, from);
      from = this.#literal(codes, reached, k + 1, from, next);
      if (from < 0) return false;
      [reached, next] = [next, reached];
    }
    return reached[n] === 1;
  }

  /**
   * Marks in `out` the positions right after each occurrence of literal `index` that starts at a
   * position marked in `at` (from `from` on); returns the first marked, or -1.
   */
  #literal(codes: Uint16Array, at: Uint8Array, index: number, from: number, out: Uint8Array): number {
    const lit = this.#literals[index];
    const m = lit.length;
    const n = codes.length;
    let first = -1;
    if (m === 1) {
      const c = lit.charCodeAt(0);
      for (let i = from; i < n; i++) {
        if (at[i] === 1 && codes[i] === c) {
          out[i + 1] = 1;
          if (first < 0) first = i + 1;
        }
      }
      return first;
    }
    const pattern = this.#patterns[index] ??= Uint16Array.from(lit, (ch) => ch.charCodeAt(0));
    const fail = this.#failures[index] ??= failureTable(pattern);
    // Knuth-Morris-Pratt: every occurrence in linear time, whatever repeats in the literal.
    let q = 0;
    for (let i = from; i < n; i++) {
      const c = codes[i];
      while (q > 0 && pattern[q] !== c) q = fail[q - 1];
      if (pattern[q] === c) q++;
      if (q === m) {
        if (at[i + 1 - m] === 1) {
          out[i + 1] = 1;
          if (first < 0) first = i + 1;
        }
        q = fail[q - 1];
      }
    }
    return first;
  }
}

/** For each position p, the first position at or after p holding an excluded character (or the end). */
function runEnd(codes: Uint16Array, exclude: number): Int32Array {
  const n = codes.length;
  const ends = new Int32Array(n + 1);
  ends[n] = n;
  for (let p = n - 1; p >= 0; p--) ends[p] = charBit(codes[p]) & exclude ? p : ends[p + 1];
  return ends;
}

/** The Knuth-Morris-Pratt failure function of `pattern`. */
function failureTable(pattern: Uint16Array): Int32Array {
  const fail = new Int32Array(pattern.length);
  let k = 0;
  for (let i = 1; i < pattern.length; i++) {
    while (k > 0 && pattern[i] !== pattern[k]) k = fail[k - 1];
    if (pattern[i] === pattern[k]) k++;
    fail[i] = k;
  }
  return fail;
}

/**
 * The first of `templates` that `uri` matches, or undefined; gives up (undefined) once the lookup
 * would cost more than `budget` (see {@link TEMPLATE_MATCH_BUDGET}).
 */
export function firstMatch<T extends { template: UriTemplate }>(
  templates: readonly T[],
  uri: string,
  budget: number = TEMPLATE_MATCH_BUDGET,
): T | undefined {
  let left = budget;
  for (const t of templates) {
    left -= 1 + t.template.template.length;
    if (left < 0) return undefined;
    if (!t.template.couldMatch(uri)) continue;
    left -= t.template.cost(uri.length);
    if (left < 0) return undefined;
    if (t.template.match(uri)) return t;
  }
  return undefined;
}
