/**
 * GJSON paths (github.com/tidwall/gjson v1.14) read into components: keys (with `\` escapes and
 * `*`/`?` wildcards), `#` (count, or each element), queries `#(...)` and `#(...)#`, modifiers
 * `@name:arg`, multipaths `{...}`/`[...]` and literals `!...`, each with the `.` or `|` that follows.
 * Parsed paths are cached: selectors come from a few AuthConfigs and repeat on every request.
 *
 * @module
 */

/** One component of a GJSON path. */
export interface Component {
  /** The text as written (escapes removed for keys). */
  text: string;
  /** `.` or `|`: the separator that follows this component (`""` at the end). */
  next: "." | "|" | "";
  /** What the component is. */
  kind: "key" | "count" | "query" | "modifier" | "multipath" | "literal";
  /** For keys: whether `*` or `?` appear unescaped. */
  wildcard?: boolean;
  /** For keys with wildcards: the pattern, escapes kept. */
  raw?: string;
  /** For queries: `#(...)#` (all matches) rather than `#(...)` (first). */
  all?: boolean;
  /** For modifiers: the name. */
  name?: string;
  /** For modifiers: the argument after `:`, when there is one. */
  arg?: string;
}

/** A query `#(path op value)` read into its parts. */
export interface Query {
  /** The path within each element (`""`: the element itself). */
  path: string;
  /** The operator: `=`, `==`, `!=`, `<`, `<=`, `>`, `>=`, `%`, `!%`; `""` for a bare path (exists). */
  op: string;
  /** The value as written (quoted, or a `~` boolean), trimmed. */
  value: string;
}

const pathCache = new Map<string, Component[]>();

/** The components of `path` (parsed once, then cached). */
export function pathComponents(path: string): Component[] {
  let parsed = pathCache.get(path);
  if (!parsed) {
    parsed = parsePath(path);
    if (pathCache.size > 1024) pathCache.clear();
    pathCache.set(path, parsed);
  }
  return parsed;
}

/**
 * The index just past the JSON value (object, array, string) or bracketed group (`(...)`) that
 * starts at `s[i]`; `s.length` when it does not end.
 */
export function skipGroup(s: string, i: number): number {
  const open = s[i];
  if (open === '"') {
    for (let j = i + 1; j < s.length; j++) {
      if (s[j] === "\\") j++;
      else if (s[j] === '"') return j + 1;
    }
    return s.length;
  }
  const close = open === "{" ? "}" : open === "[" ? "]" : ")";
  let depth = 0;
  for (let j = i; j < s.length; j++) {
    const c = s[j];
    if (c === '"') {
      j = skipGroup(s, j) - 1;
      continue;
    }
    if (c === "\\") {
      j++;
      continue;
    }
    if (c === open) depth++;
    else if (c === close && --depth === 0) return j + 1;
  }
  return s.length;
}

function parsePath(path: string): Component[] {
  const out: Component[] = [];
  let i = 0;
  while (i <= path.length) {
    const start = i;
    let kind: Component["kind"] = "key";
    let all = false;
    let name: string | undefined;
    let arg: string | undefined;
    if (path[i] === "@") {
      kind = "modifier";
      let j = i + 1;
      while (j < path.length && !".|:".includes(path[j])) j++;
      name = path.slice(i + 1, j);
      if (path[j] === ":") {
        // A JSON argument ends where its value does; any other runs to the next `|` (GJSON's
        // execModifier), so `@case:upper.x` has the argument `upper.x`.
        const a = j + 1;
        if ('{["'.includes(path[a])) {
          j = skipGroup(path, a);
          arg = path.slice(a, j);
          while (j < path.length && !".|".includes(path[j])) j++;
        } else {
          j = a;
          while (j < path.length && path[j] !== "|") j++;
          arg = path.slice(a, j);
        }
      }
      i = j;
    } else if (path[i] === "#" && path[i + 1] === "(" || path[i] === "#" && path[i + 1] === "[") {
      kind = "query";
      i = skipGroup(path, i + 1);
      if (path[i] === "#") {
        all = true;
        i++;
      }
      while (i < path.length && !".|".includes(path[i])) i++;
    } else if (
      (path[i] === "[" || path[i] === "{") && start === 0 ||
      (path[i] === "[" || path[i] === "{") && out.length
    ) {
      kind = "multipath";
      i = skipGroup(path, i);
      while (i < path.length && !".|".includes(path[i])) i++;
    } else if (path[i] === "!" && out.length === 0) {
      kind = "literal";
      i = path[i + 1] && '{["'.includes(path[i + 1]) ? skipGroup(path, i + 1) : i + 1;
      while (i < path.length && !".|".includes(path[i])) i++;
    } else {
      while (i < path.length && !".|".includes(path[i])) {
        if (path[i] === "\\") i++;
        i++;
      }
      if (path.slice(start, i) === "#") kind = "count";
    }
    const text = path.slice(start, Math.min(i, path.length));
    const sep = path[i] === "." || path[i] === "|" ? path[i] as "." | "|" : "";
    const c: Component = { text, next: sep, kind };
    if (kind === "key") {
      c.raw = text;
      c.wildcard = /(^|[^\\])[*?]/.test(text);
      c.text = text.replace(/\\(.)/g, "$1");
    }
    if (kind === "query") c.all = all;
    if (kind === "modifier") {
      c.name = name;
      c.arg = arg;
    }
    out.push(c);
    i++;
    if (!sep) break;
  }
  return out;
}

/** Reads a query component (`#(...)`, `#[...]`, with or without the trailing `#`). */
export function parseQuery(text: string): Query {
  // `#(path op value)`, `#[...]` for old paths; the trailing `#` (all matches) is not part of the text.
  const inner = text.replace(/#$/, "").slice(2, -1);
  let i = 0;
  while (i < inner.length) {
    const ch = inner[i];
    if (ch === "\\") {
      i += 2;
      continue;
    }
    if (ch === "(" || ch === "[" || ch === "{" || ch === '"') {
      i = skipGroup(inner, i);
      continue;
    }
    if ("=!<>%".includes(ch)) break;
    i++;
  }
  const path = inner.slice(0, i).trim();
  const op = /^(==|=|!=|<=|>=|<|>|%|!%)/.exec(inner.slice(i))?.[1] ?? "";
  const value = inner.slice(i + op.length).trim();
  return { path, op, value };
}
