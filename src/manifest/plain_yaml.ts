/**
 * A fast reader for the plain YAML most manifests are written in: block mappings and sequences,
 * one-line plain and quoted scalars, one-line flow sequences of plain scalars, `{}` and `[]`,
 * comments and `---` markers. Scalars resolve through the `yaml` package's own YAML 1.1 tags, so
 * a document it reads gives the same object and the same source offsets the package gives.
 * Anything else (anchors, tags, block or multi-line scalars, escapes, tabs, directives, duplicate
 * keys, any syntax error) makes it give up on the whole source, which is then read by the package:
 * this reader never reports a problem, it only says "not plain".
 *
 * The package spends most of a validate run building a concrete syntax tree and nodes per scalar
 * (about 150 ms of 1,000 documents warm, far more cold); this reads the same text in a few.
 *
 * @module
 */

import { Document, isScalar } from "./yaml.ts";

/** YAML 1.1, as kubectl reads it (go-yaml v2), with `<<` merge keys. */
export const COMPOSE_OPTIONS = { version: "1.1", merge: true } as const;

/**
 * A node's position: a scalar is the offset of its first character; a mapping or sequence keeps
 * its children for field lookups.
 */
export type PlainNode = number | PlainMap | PlainSeq;

/** A block mapping, or an empty flow mapping. */
export interface PlainMap {
  /** Offset of the first key (of `{` for a flow mapping). */
  start: number;
  /** Keys as strings, in order. */
  keys: string[];
  /** Offset of each key. */
  keyStarts: number[];
  /** Each key's value. */
  values: PlainNode[];
}

/** A block sequence, or a one-line flow sequence. */
export interface PlainSeq {
  /** Offset of the first `-` (of `[` for a flow sequence). */
  start: number;
  /** The items. */
  items: PlainNode[];
}

/** One document of a plain source. */
export interface PlainDocument {
  /** 0-based index, counted as the `yaml` package counts documents. */
  index: number;
  /** Start of the document's part of the text (its `---` line, or 0). */
  start: number;
  /** End of the document's part of the text (the next `---` line, or the end). */
  end: number;
  /** The document's root; undefined for a document with no content. */
  root?: Exclude<PlainNode, number>;
  /** The JavaScript value, as `Document.toJS()` gives it. */
  value?: unknown;
}

/** A plain source: its documents and the offset of each line's start. */
export interface PlainSource {
  /** The documents. */
  documents: PlainDocument[];
  /** Offsets of line starts (0 and after every newline), as `LineCounter` records them. */
  lineStarts: number[];
}

/** Thrown inside the reader when the text is not plain; never escapes it. */
class NotPlain extends Error {}
const NOT_PLAIN = new NotPlain();

// Characters that make the reader hand the whole source to the package: tabs and carriage returns
// (indentation and line rules the reader does not follow), byte order marks, control and
// line-separator characters.
// deno-lint-ignore no-control-regex
const UNSUPPORTED_CHARACTERS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029]/;
// A plain key as manifests write them (`app.kubernetes.io/name`), followed by `: ` or the line end.
const KEY = /[A-Za-z0-9_][A-Za-z0-9_.\/-]*:(?=[ \n]|$)/y;
// Items of a one-line flow sequence that the reader takes: no quotes, nesting, pairs or comments.
const FLOW_ITEMS_UNSUPPORTED = /["'[\]{}#:]/;

// No leading zero (octal in YAML 1.1), sign or underscore, and few enough digits to be exact.
const DECIMAL = /^(?:0|[1-9][0-9]{0,14})$/;

let schemaTags: SchemaTag[] | undefined;
const resolvedKeys = new Map<string, unknown>();
const resolvedValues = new Map<string, unknown>();
const RESOLVED_MAX = 4096;
let resolveOptions: unknown;

interface SchemaTag {
  default?: boolean | "key";
  tag: string;
  test?: RegExp;
  resolve: (value: string, onError: (message: string) => void, options: unknown) => unknown;
}

const PLAIN_TAGS = new Set([
  "tag:yaml.org,2002:str",
  "tag:yaml.org,2002:null",
  "tag:yaml.org,2002:bool",
  "tag:yaml.org,2002:int",
  "tag:yaml.org,2002:float",
]);

/**
 * The value of a plain scalar as the package's YAML 1.1 schema resolves it (its `findScalarTagByTest`
 * and the tag's `resolve`); anything but a string, null, boolean or number (a timestamp, a merge key)
 * is not plain.
 */
function resolvePlain(source: string, atKey: boolean): unknown {
  // Decimal integers (ports, counts), as the int tag's parseInt reads them.
  if (DECIMAL.test(source)) return Number(source);
  const first = source.charCodeAt(0);
  // Of the YAML 1.1 tags, only booleans (at most 5 letters), null (4) and floats with an exponent
  // (`e5`) match a word that starts with a letter; every other test needs a digit, sign, dot, `~` or `<`.
  if (
    ((first >= 65 && first <= 90) || (first >= 97 && first <= 122)) && first !== 69 && first !== 101 &&
    (source.length > 5 || !"yYnNtTfFoO".includes(source[0]))
  ) {
    return source;
  }
  // Short words such as name, type and from go through the tags' tests; they repeat in every document.
  const known = atKey ? resolvedKeys : resolvedValues;
  if (known.has(source)) return known.get(source);
  if (!schemaTags) {
    const { schema, options } = new Document(null, COMPOSE_OPTIONS);
    schemaTags = (schema as unknown as { tags: SchemaTag[] }).tags;
    resolveOptions = options;
  }
  const tag = schemaTags.find((tag) =>
    (tag.default === true || (atKey && tag.default === "key")) && tag.test?.test(source)
  );
  if (!tag) {
    if (known.size < RESOLVED_MAX) known.set(source, source);
    return source;
  }
  if (!PLAIN_TAGS.has(tag.tag)) throw NOT_PLAIN;
  let failed = false;
  const resolved = tag.resolve(source, () => failed = true, resolveOptions);
  if (failed) throw NOT_PLAIN;
  const value = isScalar(resolved) ? resolved.value : resolved;
  if (value !== null && typeof value === "object") throw NOT_PLAIN;
  if (typeof value === "bigint") throw NOT_PLAIN;
  if (known.size < RESOLVED_MAX) known.set(source, value);
  return value;
}

/** Reads one source's documents, or returns undefined when the text is not plain. */
export function parsePlainYaml(text: string): PlainSource | undefined {
  if (UNSUPPORTED_CHARACTERS.test(text)) return undefined;
  try {
    return new PlainReader(text).read();
  } catch (error) {
    // Not plain; a RangeError is nesting too deep for this reader's recursion: the package reports it.
    if (error === NOT_PLAIN || error instanceof RangeError) return undefined;
    throw error;
  }
}

class PlainReader {
  #text: string;
  /** Start, end (before the newline) and content start of each significant line of the document. */
  #starts: number[] = [];
  #ends: number[] = [];
  #contents: number[] = [];
  /** The current significant line. */
  #line = 0;
  /**
   * The node of the value the last `#block`, `#map`, `#seq` or `#inline` read (beside the value they
   * return: a returned pair cost an array and its destructuring per value).
   */
  #node: PlainNode = 0;
  /**
   * The next ` #` at or after the last plain scalar read (values are read in order, so one search
   * serves every scalar up to it, instead of a search per scalar that may run to the end of the text).
   */
  #comment = -1;

  constructor(text: string) {
    this.#text = text;
  }

  read(): PlainSource {
    const text = this.#text;
    const lineStarts: number[] = [0];
    const documents: PlainDocument[] = [];
    let index = 0;
    let docStart = 0;
    let started = false;
    const finish = (end: number) => {
      if (started || this.#starts.length > 0) {
        documents.push({ index: index++, start: docStart, end, ...this.#document() });
      }
      this.#starts = [];
      this.#ends = [];
      this.#contents = [];
    };
    let start = 0;
    while (start < text.length) {
      let end = text.indexOf("\n", start);
      if (end < 0) end = text.length;
      else lineStarts.push(end + 1);
      let content = start;
      while (content < end && text.charCodeAt(content) === 32) content++;
      if (content < end && text.charCodeAt(content) !== 35 /* # */) {
        if (content === start) {
          const c = text.charCodeAt(start);
          if (c === 37 /* % */) throw NOT_PLAIN;
          if ((c === 45 /* - */ || c === 46 /* . */) && isMarker(text, start, end, c)) {
            if (c === 46) throw NOT_PLAIN;
            // Only spaces may follow a `---` the reader takes.
            for (let i = start + 3; i < end; i++) if (text.charCodeAt(i) !== 32) throw NOT_PLAIN;
            finish(start);
            docStart = start;
            started = true;
            start = end + 1;
            continue;
          }
        }
        this.#starts.push(start);
        this.#ends.push(end);
        this.#contents.push(content);
      }
      start = end + 1;
    }
    finish(text.length);
    return { documents, lineStarts };
  }

  #document(): { root?: PlainMap | PlainSeq; value?: unknown } {
    if (this.#starts.length === 0) return {};
    this.#line = 0;
    const indent = this.#contents[0] - this.#starts[0];
    const value = this.#block(indent);
    const root = this.#node;
    if (this.#line < this.#starts.length) throw NOT_PLAIN;
    return { root: root as PlainMap | PlainSeq, value };
  }

  #indent(line: number): number {
    return this.#contents[line] - this.#starts[line];
  }

  #isSeqItem(line: number): boolean {
    const content = this.#contents[line];
    return this.#text.charCodeAt(content) === 45 &&
      (content + 1 === this.#ends[line] || this.#text.charCodeAt(content + 1) === 32);
  }

  #block(indent: number): unknown {
    return this.#isSeqItem(this.#line) ? this.#seq(indent) : this.#map(indent, this.#contents[this.#line]);
  }

  /** A block mapping whose keys are at column `indent`; its first key is at `first` on the current line. */
  #map(indent: number, first: number): unknown {
    const text = this.#text;
    const object: Record<string, unknown> = {};
    const node: PlainMap = { start: first, keys: [], keyStarts: [], values: [] };
    let pos = first;
    while (true) {
      const end = this.#ends[this.#line];
      KEY.lastIndex = pos;
      if (!KEY.test(text)) throw NOT_PLAIN;
      const colon = KEY.lastIndex - 1;
      // The package reports keys longer than this (its strict mode) and never merges or maps a null key.
      if (colon - pos > 1000) throw NOT_PLAIN;
      const keyValue = resolvePlain(text.slice(pos, colon), true);
      if (keyValue === null) throw NOT_PLAIN;
      const key = String(keyValue);
      if (key === "__proto__" || Object.hasOwn(object, key)) throw NOT_PLAIN;
      let at = colon + 1;
      while (at < end && text.charCodeAt(at) === 32) at++;
      let value: unknown;
      let valueNode: PlainNode;
      if (at === end || text.charCodeAt(at) === 35 /* # */) {
        this.#line++;
        const next = this.#line;
        if (next < this.#starts.length && this.#indent(next) > indent) {
          value = this.#block(this.#indent(next));
          valueNode = this.#node;
        } else if (next < this.#starts.length && this.#indent(next) === indent && this.#isSeqItem(next)) {
          value = this.#seq(indent);
          valueNode = this.#node;
        } else {
          // An empty value: the package places it after the `:` and the spaces that follow.
          value = null;
          valueNode = at;
        }
      } else {
        value = this.#inline(at, end);
        valueNode = this.#node;
        this.#line++;
      }
      object[key] = value;
      node.keys.push(key);
      node.keyStarts.push(pos);
      node.values.push(valueNode);
      const next = this.#line;
      if (next >= this.#starts.length) break;
      const nextIndent = this.#indent(next);
      if (nextIndent < indent) break;
      if (nextIndent > indent || this.#isSeqItem(next)) throw NOT_PLAIN;
      pos = this.#contents[next];
    }
    this.#node = node;
    return object;
  }

  /** A block sequence whose `-` are at column `indent`. */
  #seq(indent: number): unknown {
    const text = this.#text;
    const array: unknown[] = [];
    const node: PlainSeq = { start: this.#contents[this.#line], items: [] };
    while (true) {
      const lineStart = this.#starts[this.#line];
      const end = this.#ends[this.#line];
      let at = this.#contents[this.#line] + 1;
      while (at < end && text.charCodeAt(at) === 32) at++;
      let value: unknown;
      let item: PlainNode;
      if (at === end || text.charCodeAt(at) === 35 /* # */) {
        this.#line++;
        const next = this.#line;
        // An empty item is not plain (the package places it by other rules).
        if (next >= this.#starts.length || this.#indent(next) <= indent) throw NOT_PLAIN;
        value = this.#block(this.#indent(next));
        item = this.#node;
      } else if (text.charCodeAt(at) === 45 && (at + 1 === end || text.charCodeAt(at + 1) === 32)) {
        throw NOT_PLAIN;
      } else {
        KEY.lastIndex = at;
        if (KEY.test(text)) {
          value = this.#map(at - lineStart, at);
          item = this.#node;
        } else {
          value = this.#inline(at, end);
          item = this.#node;
          this.#line++;
        }
      }
      array.push(value);
      node.items.push(item);
      const next = this.#line;
      if (next >= this.#starts.length) break;
      const nextIndent = this.#indent(next);
      if (nextIndent < indent) break;
      if (nextIndent > indent) throw NOT_PLAIN;
      if (!this.#isSeqItem(next)) break;
    }
    this.#node = node;
    return array;
  }

  /** A value that starts at `at` and ends on its line: a scalar, a flow sequence, `{}`. */
  #inline(at: number, end: number): unknown {
    const text = this.#text;
    const c = text[at];
    if (c === '"') {
      const close = text.indexOf('"', at + 1);
      if (close < 0 || close >= end) throw NOT_PLAIN;
      const value = text.slice(at + 1, close);
      if (value.includes("\\")) throw NOT_PLAIN;
      this.#rest(close + 1, end);
      this.#node = at;
      return value;
    }
    if (c === "'") {
      let value = "";
      let from = at + 1;
      while (true) {
        const quote = text.indexOf("'", from);
        if (quote < 0 || quote >= end) throw NOT_PLAIN;
        value += text.slice(from, quote);
        if (text[quote + 1] !== "'") {
          this.#rest(quote + 1, end);
          this.#node = at;
          return value;
        }
        value += "'";
        from = quote + 2;
      }
    }
    if (c === "[") return this.#flowSeq(at, end);
    if (c === "{") {
      let close = at + 1;
      while (close < end && text.charCodeAt(close) === 32) close++;
      if (text[close] !== "}") throw NOT_PLAIN;
      this.#rest(close + 1, end);
      this.#node = { start: at, keys: [], keyStarts: [], values: [] };
      return {};
    }
    if ("&*!|>%@`,]}#?:".includes(c)) throw NOT_PLAIN;
    if (c === "-" && (at + 1 === end || text[at + 1] === " ")) throw NOT_PLAIN;
    // A plain scalar ends at a comment (` #`) or the line end, without trailing spaces.
    if (this.#comment < at) {
      this.#comment = text.indexOf(" #", at);
      if (this.#comment < 0) this.#comment = text.length;
    }
    let stop = Math.min(this.#comment, end);
    while (text.charCodeAt(stop - 1) === 32) stop--;
    const source = text.slice(at, stop);
    if (source.includes(": ") || source.endsWith(":")) throw NOT_PLAIN;
    this.#node = at;
    return resolvePlain(source, false);
  }

  /** `[a, b]` on one line, of plain scalars. */
  #flowSeq(at: number, end: number): unknown {
    const text = this.#text;
    const close = text.indexOf("]", at + 1);
    if (close < 0 || close >= end) throw NOT_PLAIN;
    const inner = text.slice(at + 1, close);
    if (FLOW_ITEMS_UNSUPPORTED.test(inner)) throw NOT_PLAIN;
    this.#rest(close + 1, end);
    const node: PlainSeq = { start: at, items: [] };
    const array: unknown[] = [];
    if (inner.trim() === "") {
      this.#node = node;
      return array;
    }
    let from = at + 1;
    for (const part of inner.split(",")) {
      let lead = 0;
      while (part.charCodeAt(lead) === 32) lead++;
      const source = part.trim();
      if (source === "" || "&*!|>%@`?-".includes(source[0])) throw NOT_PLAIN;
      array.push(resolvePlain(source, false));
      node.items.push(from + lead);
      from += part.length + 1;
    }
    this.#node = node;
    return array;
  }

  /** What may follow a value on its line: spaces, then a comment after at least one space. */
  #rest(at: number, end: number): void {
    let i = at;
    while (i < end && this.#text.charCodeAt(i) === 32) i++;
    if (i < end && (i === at || this.#text.charCodeAt(i) !== 35)) throw NOT_PLAIN;
  }
}

function isMarker(text: string, start: number, end: number, c: number): boolean {
  return text.charCodeAt(start + 1) === c && text.charCodeAt(start + 2) === c &&
    (start + 3 === end || text.charCodeAt(start + 3) === 32);
}

/** Offset of the field at `path` in a plain document, or of its nearest existing parent (as `locate`). */
export function locatePlain(
  root: PlainMap | PlainSeq,
  path: readonly (string | number)[],
  wantKey: boolean,
): number | undefined {
  let node: PlainNode = root;
  let keyOffset: number | undefined;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    let next: PlainNode | undefined;
    let nextKey: number | undefined;
    if (typeof node === "number") break;
    if ("keys" in node) {
      const at = node.keys.indexOf(String(segment));
      if (at < 0) break;
      next = node.values[at];
      nextKey = node.keyStarts[at];
    } else if (typeof segment === "number") {
      next = node.items[segment];
      if (next === undefined) break;
      nextKey = undefined;
    } else {
      break;
    }
    if (i === path.length - 1) {
      if (wantKey && nextKey !== undefined) return nextKey;
      if (typeof next !== "number" && nextKey !== undefined) return nextKey;
      return typeof next === "number" ? next : next.start;
    }
    node = next;
    keyOffset = nextKey;
  }
  if (path.length === 0) return root.start;
  return keyOffset ?? (typeof node === "number" ? node : node.start);
}
