/**
 * Loads Kubernetes manifests from files, directories and stdin, keeping for every document the source
 * positions of its fields so findings can point at `file:line:column`.
 *
 * YAML is read with YAML 1.1 rules (`yes`/`on` are booleans, `0777` is octal) because kubectl converts
 * YAML with go-yaml v2, so the object we check is the object the API server receives.
 *
 * @module
 */

import { Composer, isMap, isPair, isScalar, isSeq, LineCounter, type Node, Parser } from "./yaml.ts";
import { COMPOSE_OPTIONS, locatePlain, parsePlainYaml, type PlainSource } from "./plain_yaml.ts";
import { InputError } from "../errors.ts";

/** A 1-based line and column. */
export interface Position {
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** A path into an object: property names and array indexes. */
export type FieldPath = readonly (string | number)[];

/** Options of {@linkcode ManifestDocument.positionOf}. */
export interface PositionOptions {
  /** Point at the key of the field instead of its value (e.g. for unknown fields). */
  key?: boolean;
}

/**
 * A problem found while reading a document, before any validation: a syntax error (`yaml.syntax`),
 * or a document past a reading limit (`yaml.limit`: an alias bomb, nesting too deep to read).
 */
export interface ManifestProblem {
  /** Stable code, e.g. `yaml.syntax`. */
  code: string;
  /** Sentence-case message. */
  message: string;
  /** 1-based line. */
  line: number;
  /** 1-based column. */
  column: number;
}

/** One object read from a manifest. */
export interface ManifestDocument {
  /** The file path, or `-` for stdin. */
  source: string;
  /** 0-based index of the YAML document in its source (items of a `kind: List` share their list's index). */
  index: number;
  /** Index of the item inside a `kind: List` document, when the object came from one. */
  listIndex?: number;
  /** The parsed object; undefined when the document could not be parsed. */
  object: unknown;
  /** Syntax errors of the document; when there are any, `object` is undefined. */
  problems: ManifestProblem[];
  /**
   * Where a field is in the source: its value (or its key with `{key: true}`); for a collection the key
   * line that opens it; for a missing field the nearest existing parent.
   */
  positionOf(path: FieldPath, options?: PositionOptions): Position;
}

/** Options of {@linkcode loadManifests}. */
export interface LoadOptions {
  /** Descend into subdirectories of directory sources. */
  recursive?: boolean;
  /** The stream `-` reads; defaults to `Deno.stdin.readable`. */
  stdin?: ReadableStream<Uint8Array>;
  /**
   * Stops reading (Ctrl-C): the load rejects with the signal's reason, also while a read waits on
   * a FIFO or a terminal.
   */
  signal?: AbortSignal;
}

const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

/**
 * How many aliases a document may resolve, counted as the `yaml` package counts them (each alias
 * resolved times the aliases inside what it names). Real manifests stay far below; a "billion
 * laughs" document exceeds it after a few thousand steps instead of expanding exponentially.
 */
export const MAX_ALIAS_COUNT = 1000;

/** Reads every source (file, directory, or `-` for stdin) into documents, in order. */
export async function loadManifests(
  sources: string[],
  options: LoadOptions = {},
): Promise<ManifestDocument[]> {
  const signal = options.signal;
  const documents: ManifestDocument[] = [];
  // One document at a time: spreading a file's documents into push() overflows the stack at ~100k.
  const add = (docs: ManifestDocument[]) => {
    for (const doc of docs) documents.push(doc);
  };
  for (const source of sources) {
    signal?.throwIfAborted();
    if (source === "-") {
      const stream = options.stdin ?? Deno.stdin.readable;
      add(parseManifests(await abortable(new Response(stream).text(), signal), "-"));
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(source);
    } catch (error) {
      throw new InputError(`the path "${source}" does not exist`, { cause: error });
    }
    const files = info.isDirectory
      ? await listManifestFiles(source, options.recursive ?? false, signal)
      : [source];
    for (const file of files) {
      signal?.throwIfAborted();
      let text: string;
      try {
        text = await Deno.readTextFile(file, { signal });
      } catch (error) {
        signal?.throwIfAborted();
        throw new InputError(`cannot read "${file}": ${(error as Error).message}`, { cause: error });
      }
      add(parseManifests(text, file));
    }
  }
  return documents;
}

/** `promise`, or a rejection with the signal's reason as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

async function listManifestFiles(dir: string, recursive: boolean, signal?: AbortSignal): Promise<string[]> {
  signal?.throwIfAborted();
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const files: string[] = [];
  for (const entry of entries) {
    const path = `${dir.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) {
      if (!recursive) continue;
      for (const file of await listManifestFiles(path, true, signal)) files.push(file);
    } else if (MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      files.push(path);
    }
  }
  return files;
}

/**
 * Parses the text of one source into documents: multi-document YAML or JSON, `kind: List` expanded
 * into its items, empty documents skipped. Syntax errors and documents past a reading limit become
 * `problems`, never exceptions.
 *
 * Plain YAML (what manifests are almost always written in) is read by `plain_yaml.ts`, which gives the
 * same objects and positions in a fraction of the time; any other source by {@linkcode composeManifests}.
 */
export function parseManifests(text: string, source: string): ManifestDocument[] {
  const plain = parsePlainYaml(text);
  return plain ? plainManifests(text, source, plain) : composeManifests(text, source);
}

/** The documents of a source the plain reader read. */
function plainManifests(text: string, source: string, plain: PlainSource): ManifestDocument[] {
  const lineCounter = new LineCounter();
  for (const start of plain.lineStarts) lineCounter.addNewLine(start);
  const toPosition = positionFrom(lineCounter);
  // Past the limit, positions come from composing the document again, as for any other source.
  const trees = text.length <= KEEP_TREES_MAX_CHARS ? undefined : new DocumentTrees(text);
  const out: ManifestDocument[] = [];
  for (const doc of plain.documents) {
    const root = doc.root;
    if (!root) continue;
    const docStart = toPosition(root.start);
    const region = { index: doc.index, start: doc.start, end: doc.end };
    const positionOf = (prefix: FieldPath) => (path: FieldPath, options: PositionOptions = {}): Position => {
      const full = [...prefix, ...path];
      let offset: number | undefined;
      if (trees) {
        const tree = trees.get(region);
        offset = tree.root && locate(tree.root, full, options.key ?? false);
        if (offset !== undefined) offset += tree.base;
      } else {
        offset = locatePlain(root, full, options.key ?? false);
      }
      return offset === undefined ? docStart : toPosition(offset);
    };
    addObject(out, source, doc.index, doc.value, positionOf);
  }
  return out;
}

/** `object` as a document, or its items when it is a `kind: List`. */
function addObject(
  out: ManifestDocument[],
  source: string,
  index: number,
  object: unknown,
  positionOf: (prefix: FieldPath) => ManifestDocument["positionOf"],
): void {
  if (isListObject(object)) {
    const items = object.items;
    for (let listIndex = 0; listIndex < items.length; listIndex++) {
      out.push({
        source,
        index,
        listIndex,
        object: items[listIndex],
        problems: [],
        positionOf: positionOf(["items", listIndex]),
      });
    }
    return;
  }
  out.push({ source, index, object, problems: [], positionOf: positionOf([]) });
}

/** 1-based positions of offsets, never before line 1, column 1. */
function positionFrom(lineCounter: LineCounter): (offset: number) => Position {
  return (offset) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  };
}

/**
 * {@linkcode parseManifests} through the `yaml` package, for any source (exported for tests that
 * compare it with the plain reader).
 *
 * Documents are composed one at a time. A source up to {@link KEEP_TREES_MAX_CHARS} keeps each
 * document's syntax tree for positions (about 16 bytes per character of text). A larger one drops
 * them: a file of 250,000 documents would otherwise keep every tree (gigabytes, and most of the time
 * spent collecting garbage), and the documents a finding points into are composed again from their
 * part of the text.
 */
export function composeManifests(text: string, source: string): ManifestDocument[] {
  const lineCounter = new LineCounter();
  const tokens = new Parser(lineCounter.addNewLine).parse(text);
  const out: ManifestDocument[] = [];
  const toPosition = positionFrom(lineCounter);
  const trees = new DocumentTrees(text);
  const keep = text.length <= KEEP_TREES_MAX_CHARS;
  let index = -1;
  let regionStart = 0;
  for (const doc of new Composer(COMPOSE_OPTIONS).compose(tokens)) {
    index++;
    // From the end of the previous document: its own directives, comments and markers.
    const region = {
      index,
      start: regionStart,
      end: doc.range[2],
      kept: keep ? doc.contents ?? undefined : undefined,
    };
    regionStart = doc.range[2];
    const docStart = toPosition(doc.contents?.range?.[0] ?? doc.range[0]);
    const unread = (problems: ManifestProblem[]) =>
      out.push({ source, index, object: undefined, problems, positionOf: () => docStart });
    if (doc.errors.length > 0) {
      const problems = doc.errors.map((error): ManifestProblem => {
        const { line, column } = toPosition(error.pos[0]);
        // The parser recurses per nesting level and reports running out of stack as a syntax error.
        if (error.message.includes(STACK_EXHAUSTED)) return { ...TOO_DEEP, line, column };
        const message = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
        return { code: "yaml.syntax", message: `YAML syntax error: ${message}`, line, column };
      });
      const firstTooDeep = problems.findIndex((problem) => problem.code === TOO_DEEP.code);
      unread(problems.filter((problem, i) => problem.code !== TOO_DEEP.code || i === firstTooDeep));
      continue;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) continue;
    let object: unknown;
    try {
      object = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
      // The yaml package throws a ReferenceError past maxAliasCount, and a RangeError when building
      // the object recurses too deep: either way this document is reported and the others are read.
      if (!(error instanceof ReferenceError || error instanceof RangeError)) throw error;
      const limit = error instanceof ReferenceError
        ? {
          code: "yaml.limit",
          message: `The document resolves more than ${MAX_ALIAS_COUNT} YAML aliases (an alias bomb?) ` +
            "and was not read",
        }
        : TOO_DEEP;
      unread([{ ...limit, ...docStart }]);
      continue;
    }
    const positionOf = (prefix: FieldPath) => (path: FieldPath, options: PositionOptions = {}): Position => {
      const tree = trees.get(region);
      const offset = tree.root && locate(tree.root, [...prefix, ...path], options.key ?? false);
      return offset === undefined ? docStart : toPosition(tree.base + offset);
    };
    addObject(out, source, index, object, positionOf);
  }
  return out;
}

/**
 * Sources up to this many characters keep their documents' syntax trees. Composing a document again
 * for each finding's position cost 80% of validating a 1,000-document file with 400 warnings.
 */
export const KEEP_TREES_MAX_CHARS = 1 << 20;

/** A document's syntax tree and the offset of its text in the source. */
interface DocumentTree {
  /** The document's contents; undefined when its part of the text does not read alone. */
  root?: Node;
  /** Offset to add to the tree's ranges for positions in the whole source. */
  base: number;
}

/**
 * Syntax trees of a source's documents, composed again on demand from each document's own part of
 * the text (a YAML document depends on nothing outside its directives, comments and markers), and
 * a few kept for the findings that ask one document for several positions.
 */
class DocumentTrees {
  #text: string;
  #recent = new Map<number, DocumentTree>();

  constructor(text: string) {
    this.#text = text;
  }

  get(region: { index: number; start: number; end: number; kept?: Node }): DocumentTree {
    // A tree kept from the whole source's parse: its ranges are offsets in the whole source.
    if (region.kept) return { root: region.kept, base: 0 };
    let tree = this.#recent.get(region.index);
    if (tree) return tree;
    const part = this.#text.slice(region.start, region.end);
    const docs = [...new Composer(COMPOSE_OPTIONS).compose(new Parser().parse(part))];
    const alone = docs.length === 1 && docs[0].errors.length === 0 && docs[0].contents;
    tree = { root: alone ? docs[0].contents as Node : undefined, base: region.start };
    if (this.#recent.size >= 16) this.#recent.delete(this.#recent.keys().next().value!);
    this.#recent.set(region.index, tree);
    return tree;
  }
}

const STACK_EXHAUSTED = "Maximum call stack size exceeded";
const TOO_DEEP = { code: "yaml.limit", message: "The document nests too deeply to be read" };

function isListObject(object: unknown): object is { items: unknown[] } {
  if (!object || typeof object !== "object" || Array.isArray(object)) return false;
  const { kind, items } = object as Record<string, unknown>;
  return typeof kind === "string" && kind.endsWith("List") && Array.isArray(items);
}

/** Offset of the field at `path`, or of its nearest existing parent. */
function locate(root: Node, path: FieldPath, wantKey: boolean): number | undefined {
  let node: Node | null | undefined = root;
  let keyOffset: number | undefined;
  for (let i = 0; i < path.length; i++) {
    const segment = path[i];
    let next: Node | null | undefined;
    let nextKey: number | undefined;
    if (isMap(node)) {
      const pair = node.items.find((p) =>
        isPair(p) && isScalar(p.key) && String(p.key.value) === String(segment)
      );
      if (!pair) break;
      next = pair.value as Node | null;
      nextKey = (pair.key as Node).range?.[0];
    } else if (isSeq(node) && typeof segment === "number") {
      next = node.items[segment] as Node | undefined;
      if (next === undefined) break;
      nextKey = undefined;
    } else {
      break;
    }
    if (next === null || next === undefined) {
      // `key:` with no value: point at the key.
      return nextKey;
    }
    if (i === path.length - 1) {
      if (wantKey && nextKey !== undefined) return nextKey;
      if ((isMap(next) || isSeq(next)) && nextKey !== undefined) return nextKey;
      return next.range?.[0];
    }
    node = next;
    keyOffset = nextKey;
  }
  if (path.length === 0) return root?.range?.[0];
  return keyOffset ?? node?.range?.[0];
}
