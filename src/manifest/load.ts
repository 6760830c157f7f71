/**
 * Loads Kubernetes manifests from files, directories and stdin, keeping for every document the source
 * positions of its fields so findings can point at `file:line:column`.
 *
 * YAML is read with YAML 1.1 rules (`yes`/`on` are booleans, `0777` is octal) because kubectl converts
 * YAML with go-yaml v2, so the object we check is the object the API server receives.
 *
 * @module
 */

import { isMap, isPair, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from "yaml";
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

/** A problem found while reading a document (a syntax error), before any validation. */
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
}

const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

/** Reads every source (file, directory, or `-` for stdin) into documents, in order. */
export async function loadManifests(
  sources: string[],
  options: LoadOptions = {},
): Promise<ManifestDocument[]> {
  const documents: ManifestDocument[] = [];
  for (const source of sources) {
    if (source === "-") {
      const stream = options.stdin ?? Deno.stdin.readable;
      const text = await new Response(stream).text();
      documents.push(...parseManifests(text, "-"));
      continue;
    }
    let info: Deno.FileInfo;
    try {
      info = await Deno.stat(source);
    } catch (error) {
      throw new InputError(`the path "${source}" does not exist`, { cause: error });
    }
    const files = info.isDirectory ? await listManifestFiles(source, options.recursive ?? false) : [source];
    for (const file of files) {
      let text: string;
      try {
        text = await Deno.readTextFile(file);
      } catch (error) {
        throw new InputError(`cannot read "${file}": ${(error as Error).message}`, { cause: error });
      }
      documents.push(...parseManifests(text, file));
    }
  }
  return documents;
}

async function listManifestFiles(dir: string, recursive: boolean): Promise<string[]> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) entries.push(entry);
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const files: string[] = [];
  for (const entry of entries) {
    const path = `${dir.replace(/\/+$/, "")}/${entry.name}`;
    if (entry.isDirectory) {
      if (recursive) files.push(...await listManifestFiles(path, true));
    } else if (MANIFEST_EXTENSIONS.some((ext) => entry.name.endsWith(ext))) {
      files.push(path);
    }
  }
  return files;
}

/**
 * Parses the text of one source into documents: multi-document YAML or JSON, `kind: List` expanded
 * into its items, empty documents skipped. Syntax errors become `problems`, never exceptions.
 */
export function parseManifests(text: string, source: string): ManifestDocument[] {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { version: "1.1", lineCounter, prettyErrors: false, merge: true });
  const out: ManifestDocument[] = [];
  const toPosition = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  };
  const list = Array.isArray(docs) ? docs : [];
  if (!Array.isArray(docs)) {
    // EmptyStream: nothing but comments or whitespace.
    return out;
  }
  list.forEach((doc, index) => {
    const docStart = toPosition(doc.contents?.range?.[0] ?? doc.range[0]);
    if (doc.errors.length > 0) {
      out.push({
        source,
        index,
        object: undefined,
        problems: doc.errors.map((error) => {
          const pos = error.linePos?.[0] ?? toPosition(error.pos[0]);
          const message = error.message.split("\n")[0].replace(/ at line \d+, column \d+:?$/, "");
          return {
            code: "yaml.syntax",
            message: `YAML syntax error: ${message}`,
            line: pos.line,
            column: "col" in pos ? pos.col : pos.column,
          };
        }),
        positionOf: () => docStart,
      });
      return;
    }
    if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) return;
    const object = doc.toJS({ maxAliasCount: 1000 });
    const positionOf = (prefix: FieldPath) => (path: FieldPath, options: PositionOptions = {}): Position => {
      const offset = locate(doc.contents as Node, [...prefix, ...path], options.key ?? false);
      return offset === undefined ? docStart : toPosition(offset);
    };
    if (isListObject(object)) {
      object.items.forEach((item: unknown, listIndex: number) => {
        out.push({
          source,
          index,
          listIndex,
          object: item,
          problems: [],
          positionOf: positionOf(["items", listIndex]),
        });
      });
      return;
    }
    out.push({ source, index, object, problems: [], positionOf: positionOf([]) });
  });
  return out;
}

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
