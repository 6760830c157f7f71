/**
 * The modifiers a selector path can apply: GJSON's own (`@this`, `@valid`, `@ugly`, `@pretty`,
 * `@reverse`, `@keys`, `@values`, `@flatten`, `@join`, `@group`, `@tostr`, `@fromstr`) and the string
 * modifiers Authorino registers (pkg/json: `@extract`, `@replace`, `@case`, `@base64`, `@strip`).
 *
 * @module
 */

import { builtObject, goJson, isBuilt, sortedKeys, toGjsonString } from "./selector_text.ts";

/**
 * Whether modifier `name` returns text without escaping it (Authorino's `@extract`, `@replace` and
 * `@base64`), whose raw control characters a following `@strip` then removes.
 */
export function returnsRawText(name: string): boolean {
  return ["extract", "replace", "base64"].includes(name);
}

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

/**
 * Applies modifier `name` (with its argument `arg`, as written) to `v`; undefined when GJSON's result
 * does not exist (an unknown modifier among them). `root` is the whole document, which a modifier at
 * the start of a path (`first`) applies to; `rawText` says `v` came from {@linkcode returnsRawText}'s
 * modifiers unescaped.
 */
export function applyModifier(
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
        for (const k of isBuilt(r) ? Object.keys(r) : sortedKeys(r)) out[k] = r[k];
      }
      return out;
    }
    case "group": {
      if (!value || typeof value !== "object" || Array.isArray(value)) return undefined;
      const rows: Record<string, unknown>[] = [];
      const o = value as Record<string, unknown>;
      for (const k of isBuilt(o) ? Object.keys(o) : sortedKeys(o)) {
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
