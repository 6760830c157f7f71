/**
 * GJSON path lookup (github.com/tidwall/gjson v1.14, which Authorino uses) over the authorization
 * JSON: keys and wildcards, `#` counts and per-element paths, queries, `|` pipes, multipaths and
 * literals, with the modifiers of selector_modifiers.ts.
 *
 * @module
 */

import { applyModifier, returnsRawText } from "./selector_modifiers.ts";
import { type Component, parseQuery, pathComponents, type Query, skipGroup } from "./selector_parse.ts";
import { builtObject, sortedKeys, toGjsonString } from "./selector_text.ts";

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

function evalPath(root: unknown, value: unknown, path: string): unknown {
  if (path === "") return undefined;
  return evalComponents(root, value, pathComponents(path), 0);
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
        rawText = typeof current === "string" && returnsRawText(c.name ?? "");
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
      const cs = pathComponents(part);
      const last = cs[cs.length - 1];
      obj[key ?? (last.kind === "key" ? last.text : "_")] = v;
    } else arr.push(v);
  }
  return asObject ? builtObject(obj) : arr;
}
