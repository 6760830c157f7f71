/**
 * Authorino's JSON selectors (the deprecated but still common `selector` fields): GJSON paths
 * (github.com/tidwall/gjson v1.14, which Authorino uses) over the authorization JSON, with Authorino's
 * string modifiers (`@extract`, `@replace`, `@case`, `@base64`, `@strip`) and GJSON's own (`@this`,
 * `@tostr`, `@fromstr`, `@reverse`, `@keys`, `@values`, `@flatten`, `@join`, `@valid`, `@ugly`,
 * `@pretty`, `@group`), and the selector/operator/value patterns of `patternMatching` and `when`.
 *
 * Values are rendered as Go renders them: JSON text with map keys sorted and `<`, `>`, `&` escaped
 * (Authorino marshals the authorization JSON with Go's encoder), which is what `@tostr` and a selected
 * object in a header or wristband claim carry.
 *
 * @module
 */

import { compileRegex, type RegexMatcher, RegexSyntaxError } from "./regex.ts";

/** A selector/operator/value pattern (`patternMatching.patterns[]`, `when[]` of the older form). */
export interface Pattern {
  /** The JSON selector. */
  selector: string;
  /** `eq`, `neq`, `incl` (the array includes the value), `excl`, `matches` (regular expression). */
  operator: "eq" | "neq" | "incl" | "excl" | "matches";
  /** The value to compare with (a regular expression for `matches`). */
  value: string;
}

/** A pattern ready to match, its regular expression (if any) compiled once. */
export interface CompiledPattern {
  /** The pattern as written. */
  readonly pattern: Pattern;
  /** Whether the pattern holds for `input` (the authorization JSON). */
  matches(input: unknown): boolean;
}

/** A selector pattern that cannot be used: unknown operator or a bad regular expression. */
export class PatternError extends Error {
  /** Stable code. */
  readonly code = "selector_pattern";
  /** The pattern as written. */
  readonly pattern: Pattern;
  /** An error for `pattern`. */
  constructor(pattern: Pattern, message: string) {
    super(message);
    this.name = "PatternError";
    this.pattern = pattern;
  }
}

/** The value `selector` selects from `input`; undefined when absent. */
export function select(input: unknown, selector: string): unknown {
  return evalPath(input, input, selector);
}

/**
 * The value `selector` selects rendered as a string, as GJSON's `String()`: a string as is, null and an
 * absent value as `""`, anything else as its JSON text.
 */
export function selectString(input: unknown, selector: string): string {
  return toGjsonString(select(input, selector));
}

/** A value rendered as GJSON's `Result.String()` renders it. */
export function toGjsonString(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value === "string") return value;
  return goJson(value);
}

/** Compiles `pattern` (its regular expression once); throws {@linkcode PatternError}. */
export function compilePattern(pattern: Pattern): CompiledPattern {
  const { selector, operator, value } = pattern;
  const where = `Pattern "${selector} ${operator} ${value}"`;
  switch (operator) {
    case "eq":
      return { pattern, matches: (input) => selectString(input, selector) === value };
    case "neq":
      return { pattern, matches: (input) => selectString(input, selector) !== value };
    case "incl":
      return {
        pattern,
        matches: (input) => gjsonArray(select(input, selector)).some((v) => toGjsonString(v) === value),
      };
    case "excl":
      return {
        pattern,
        matches: (input) => !gjsonArray(select(input, selector)).some((v) => toGjsonString(v) === value),
      };
    case "matches": {
      let re: RegexMatcher;
      try {
        re = compileRegex(value);
      } catch (e) {
        if (e instanceof RegexSyntaxError) throw new PatternError(pattern, `${where}: ${e.message}`);
        throw e;
      }
      return { pattern, matches: (input) => re.test(selectString(input, selector)) };
    }
    default:
      throw new PatternError(
        pattern,
        `${where}: unknown operator "${operator}" (expected eq, neq, incl, excl or matches)`,
      );
  }
}

/** Whether `pattern` holds for `input`. Compiles the pattern each call: prefer {@linkcode compilePattern}. */
export function matchPattern(input: unknown, pattern: Pattern): boolean {
  return compilePattern(pattern).matches(input);
}

// GJSON's `Result.Array()`: an array's elements, nothing for null or absent, else the value alone.
function gjsonArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

// ---------------------------------------------------------------------------------------------------
// Go's JSON text

/** JSON as Go's `encoding/json` writes it: compact, map keys sorted, `<`, `>`, `&`, U+2028/9 escaped. */
export function goJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)).replace(/[<>&\u2028\u2029]/g, (c) => {
    return "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0");
  });
}

// Objects a path builds (multipaths, `@reverse`, `@join`, `@group`) keep the order GJSON wrote them in;
// every other object is the authorization JSON's, which Go wrote with sorted keys.
const built = new WeakSet<object>();

function builtObject(o: Record<string, unknown>): Record<string, unknown> {
  built.add(o);
  return o;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    const keys = built.has(value) ? Object.keys(value) : Object.keys(value).sort();
    for (const k of keys) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

// ---------------------------------------------------------------------------------------------------
// Path evaluation

interface Component {
  /** The text as written (escapes removed for keys). */
  text: string;
  /** `.` or `|`: the separator that follows this component (`""` at the end). */
  next: "." | "|" | "";
  kind: "key" | "count" | "query" | "modifier" | "multipath" | "literal";
  /** For keys: whether `*` or `?` appear unescaped. */
  wildcard?: boolean;
  /** For keys with wildcards: the pattern, escapes kept. */
  raw?: string;
  /** For queries: `#(...)#` (all matches) rather than `#(...)` (first). */
  all?: boolean;
  /** For modifiers: the name and argument. */
  name?: string;
  arg?: string;
}

const pathCache = new Map<string, Component[]>();

function components(path: string): Component[] {
  let parsed = pathCache.get(path);
  if (!parsed) {
    parsed = parsePath(path);
    if (pathCache.size > 1024) pathCache.clear();
    pathCache.set(path, parsed);
  }
  return parsed;
}

// Reads past a JSON value (object, array, string) or a bracketed group starting at `i`.
function skipGroup(s: string, i: number): number {
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

function evalPath(root: unknown, value: unknown, path: string): unknown {
  if (path === "") return undefined;
  return evalComponents(root, value, components(path), 0);
}

function evalComponents(root: unknown, value: unknown, cs: Component[], from: number): unknown {
  let current = value;
  // Whether `current` is a string an Authorino modifier wrapped without escaping (its JSON text holds
  // raw control characters, which `@strip` then removes).
  let rawText = false;
  for (let i = from; i < cs.length; i++) {
    if (current === undefined) return undefined;
    const c = cs[i];
    const wasRaw = rawText;
    rawText = false;
    switch (c.kind) {
      case "key":
        if (c.wildcard && current !== null && typeof current === "object" && !Array.isArray(current)) {
          // GJSON tries each matching key (in document order) until the rest of the path resolves.
          const end = nextPipe(cs, i + 1);
          const o = current as Record<string, unknown>;
          const re = wildcardRegex(c.raw!);
          let found: unknown;
          for (const k of sortedKeys(o)) {
            if (!re.test(k)) continue;
            found = end === i + 1 ? o[k] : evalComponents(root, o[k], cs.slice(0, end), i + 1);
            if (found !== undefined) break;
          }
          current = found;
          i = end - 1;
        } else current = child(current, c);
        break;
      case "count":
        if (!Array.isArray(current)) return undefined;
        if (c.next === ".") {
          // `a.#.b`: `b` (up to the next `|`) on each element, absent results left out.
          const end = nextPipe(cs, i + 1);
          const mapped: unknown[] = [];
          for (const el of current) {
            const r = evalComponents(root, el, cs.slice(0, end), i + 1);
            if (r !== undefined) mapped.push(r);
          }
          current = mapped;
          i = end - 1;
        } else current = current.length;
        break;
      case "query": {
        if (!Array.isArray(current)) return undefined;
        const q = parseQuery(c.text);
        if (c.all) {
          const found = current.filter((el) => queryMatches(root, el, q));
          if (c.next === ".") {
            const end = nextPipe(cs, i + 1);
            const mapped: unknown[] = [];
            for (const el of found) {
              const r = evalComponents(root, el, cs.slice(0, end), i + 1);
              if (r !== undefined) mapped.push(r);
            }
            current = mapped;
            i = end - 1;
          } else current = found;
        } else current = current.find((el) => queryMatches(root, el, q));
        break;
      }
      case "modifier":
        current = applyModifier(root, current, c.name ?? "", c.arg, i === 0, wasRaw);
        rawText = typeof current === "string" && ["extract", "replace", "base64"].includes(c.name ?? "");
        break;
      case "multipath":
        current = multipath(root, current, c.text);
        break;
      case "literal": {
        const lit = c.text.slice(1);
        try {
          current = JSON.parse(lit);
        } catch {
          return undefined;
        }
        break;
      }
    }
  }
  return current;
}

function nextPipe(cs: Component[], from: number): number {
  for (let j = from; j < cs.length; j++) if (cs[j - 1].next === "|") return j;
  return cs.length;
}

// The authorization JSON Authorino queries is Go's encoding of maps: keys in sorted order, which is
// the order wildcards, `@keys`, `@values` and `@reverse` see.
function sortedKeys(o: object): string[] {
  return Object.keys(o).filter((k) => (o as Record<string, unknown>)[k] !== undefined).sort();
}

function child(value: unknown, c: Component): unknown {
  if (Array.isArray(value)) {
    if (!/^\d+$/.test(c.text)) return undefined;
    return value[Number(c.text)];
  }
  if (value === null || typeof value !== "object") return undefined;
  const o = value as Record<string, unknown>;
  if (!c.wildcard) return Object.hasOwn(o, c.text) ? o[c.text] : undefined;
  const re = wildcardRegex(c.raw!);
  for (const k of sortedKeys(o)) if (re.test(k)) return o[k];
  return undefined;
}

const wildcardCache = new Map<string, RegExp>();

function wildcardRegex(pattern: string): RegExp {
  let re = wildcardCache.get(pattern);
  if (!re) {
    let src = "";
    for (let i = 0; i < pattern.length; i++) {
      const ch = pattern[i];
      if (ch === "\\" && i + 1 < pattern.length) src += escapeRegex(pattern[++i]);
      else if (ch === "*") src += "[\\s\\S]*";
      else if (ch === "?") src += "[\\s\\S]";
      else src += escapeRegex(ch);
    }
    re = new RegExp(`^${src}$`, "u");
    if (wildcardCache.size > 256) wildcardCache.clear();
    wildcardCache.set(pattern, re);
  }
  return re;
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
}

interface Query {
  path: string;
  op: string;
  value: string;
}

function parseQuery(text: string): Query {
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

// GJSON v1.14's queryMatches: the element's type decides the comparison; `~` first turns the value
// (present or not) into a boolean with `Result.Bool()`.
function queryMatches(root: unknown, el: unknown, q: Query): boolean {
  let left = q.path === ""
    ? el
    : (el !== null && typeof el === "object" ? evalPath(root, el, q.path) : undefined);
  if (q.path !== "" && (el === null || typeof el !== "object")) return false;
  let rv = q.value;
  if (rv.length >= 2 && rv.startsWith('"') && rv.endsWith('"')) {
    try {
      rv = JSON.parse(rv);
    } catch {
      rv = rv.slice(1, -1);
    }
  }
  if (q.value.startsWith("~")) {
    rv = rv.slice(1);
    left = gjsonBool(left);
  }
  if (left === undefined) return false;
  const op = q.op === "==" ? "=" : q.op;
  if (op === "") return true;
  if (typeof left === "string") return compare(op, left, rv, true);
  if (typeof left === "number") {
    const n = Number.parseFloat(rv);
    return compare(op, left, Number.isNaN(n) ? 0 : n, false);
  }
  if (left === true) {
    return op === "="
      ? rv === "true"
      : op === "!="
      ? rv !== "true"
      : op === ">"
      ? rv === "false"
      : op === ">=";
  }
  if (left === false) {
    return op === "="
      ? rv === "false"
      : op === "!="
      ? rv !== "false"
      : op === "<"
      ? rv === "true"
      : op === "<=";
  }
  return false;
}

// GJSON's `Result.Bool()`: true, a non-zero number, or a string Go's ParseBool reads as true.
function gjsonBool(v: unknown): boolean {
  if (v === true) return true;
  if (typeof v === "number") return v !== 0;
  if (typeof v === "string") return ["1", "t", "true"].includes(v.toLowerCase());
  return false;
}

function compare(op: string, a: string | number, b: string | number, strings: boolean): boolean {
  switch (op) {
    case "=":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
    case "%":
      return strings && wildcardRegex(String(b)).test(String(a));
    case "!%":
      return strings && !wildcardRegex(String(b)).test(String(a));
  }
  return false;
}

function multipath(root: unknown, current: unknown, text: string): unknown {
  const asObject = text.startsWith("{");
  const body = text.slice(1, text.lastIndexOf(asObject ? "}" : "]"));
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === '"' || ch === "(" || ch === "[" || ch === "{") {
      i = skipGroup(body, i) - 1;
      continue;
    }
    if (ch === ",") {
      parts.push(body.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(body.slice(start));
  const arr: unknown[] = [];
  const obj: Record<string, unknown> = {};
  for (let part of parts) {
    part = part.trim();
    if (!part) continue;
    let key: string | undefined;
    const named = /^("(?:[^"\\]|\\.)*")\s*:/.exec(part);
    if (asObject && named) {
      key = JSON.parse(named[1]);
      part = part.slice(named[0].length).trim();
    }
    const v = evalPath(root, current, part);
    if (v === undefined) continue;
    if (asObject) {
      const cs = components(part);
      const last = cs[cs.length - 1];
      obj[key ?? (last.kind === "key" ? last.text : "_")] = v;
    } else arr.push(v);
  }
  return asObject ? builtObject(obj) : arr;
}

// ---------------------------------------------------------------------------------------------------
// Modifiers

function parseArg(arg: string | undefined): Record<string, unknown> {
  if (!arg) return {};
  try {
    const v = JSON.parse(arg);
    return v && typeof v === "object" && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

function stringValue(v: unknown): string {
  return toGjsonString(v);
}

function fromJsonText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function applyModifier(
  root: unknown,
  v: unknown,
  name: string,
  arg: string | undefined,
  first: boolean,
  rawText: boolean,
): unknown {
  // A modifier at the start of a path applies to the whole document.
  const value = first ? root : v;
  switch (name) {
    case "this":
    case "valid":
    case "ugly":
    case "pretty":
      return value;
    case "reverse":
      if (Array.isArray(value)) return [...value].reverse();
      if (value && typeof value === "object") {
        const o = value as Record<string, unknown>;
        return builtObject(Object.fromEntries(sortedKeys(o).reverse().map((k) => [k, o[k]])));
      }
      return value;
    case "keys":
      return value && typeof value === "object" && !Array.isArray(value) ? sortedKeys(value as object) : [];
    case "values": {
      if (!value || typeof value !== "object" || Array.isArray(value)) return [];
      const o = value as Record<string, unknown>;
      return sortedKeys(o).map((k) => o[k]);
    }
    case "flatten": {
      if (!Array.isArray(value)) return value;
      const deep = parseArg(arg).deep === true;
      const flat = (a: unknown[]): unknown[] =>
        a.flatMap((x) => Array.isArray(x) ? (deep ? flat(x) : x) : [x]);
      return flat(value);
    }
    case "join": {
      if (!Array.isArray(value)) return value;
      const out: Record<string, unknown> = builtObject({});
      for (const o of value) {
        if (!o || typeof o !== "object" || Array.isArray(o)) continue;
        const r = o as Record<string, unknown>;
        // A repeated key keeps its first place and takes the last value.
        for (const k of built.has(r) ? Object.keys(r) : sortedKeys(r)) out[k] = r[k];
      }
      return out;
    }
    case "group": {
      if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
      const rows: Record<string, unknown>[] = [];
      const o = value as Record<string, unknown>;
      for (const k of built.has(o) ? Object.keys(o) : sortedKeys(o)) {
        const col = o[k];
        if (!Array.isArray(col)) continue;
        col.forEach((x, i) => (rows[i] ??= builtObject({}))[k] = x);
      }
      return rows;
    }
    case "tostr":
      return value === undefined ? undefined : goJson(value);
    case "fromstr":
      return typeof value === "string" ? fromJsonText(value) : undefined;
    // Authorino's (pkg/json): they read the value's string form and return a string.
    case "extract": {
      if (value === undefined) return undefined;
      const a = parseArg(arg);
      const sep = typeof a.sep === "string" ? a.sep : " ";
      const pos = typeof a.pos === "number" ? Math.trunc(a.pos) : 0;
      const parts = stringValue(value).split(sep);
      return pos >= 0 && pos < parts.length ? parts[pos] : null;
    }
    case "replace": {
      if (value === undefined) return undefined;
      if (!arg) return value;
      const a = parseArg(arg);
      const oldText = typeof a.old === "string" ? a.old : "";
      const newText = typeof a.new === "string" ? a.new : "";
      const s = stringValue(value);
      // Go's strings.ReplaceAll with an empty `old` inserts `new` between every rune.
      return oldText === ""
        ? [...s].join(newText).replace(/^/, newText) + newText
        : s.split(oldText).join(newText);
    }
    case "case": {
      if (value === undefined) return undefined;
      if (arg !== "upper" && arg !== "lower") return value;
      // Authorino changes the case of the JSON text, keys included.
      const text = goJson(value);
      return fromJsonText(arg === "upper" ? text.toUpperCase() : text.toLowerCase());
    }
    case "base64": {
      if (value === undefined) return undefined;
      const s = stringValue(value);
      if (arg === "encode") return encodeBase64(s);
      if (arg === "decode") return decodeBase64(s);
      return value;
    }
    case "strip": {
      if (value === undefined) return undefined;
      // Non-printable runes are removed from the JSON text. In the authorization JSON Go has escaped
      // control characters (`\u0006`, `\n`), so those stay; in the text `@extract`, `@replace` and
      // `@base64` return (not escaped) they go.
      if (rawText && typeof value === "string") return [...value].filter(isPrintable).join("");
      return fromJsonText([...goJson(value)].filter(isPrintable).join(""));
    }
    default:
      // GJSON leaves a path with an unknown modifier without a result.
      return undefined;
  }
}

function isPrintable(ch: string): boolean {
  // Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
  return ch === " " || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

function encodeBase64(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function decodeBase64(s: string): string {
  // Padded standard encoding first, then unpadded (RawStdEncoding), as Authorino.
  let text = s;
  if (s.length % 4 !== 0) text = s + "=".repeat((4 - s.length % 4) % 4);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) return "";
  try {
    const bin = atob(text);
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    return new TextDecoder().decode(bytes);
  } catch {
    return "";
  }
}
