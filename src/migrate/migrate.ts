/**
 * Rewrites article-era manifests (`mcp.kuadrant.io/v1alpha1`, `spec.toolPrefix`) for the current API
 * (`mcp.kuadrant.io/v1`, `spec.prefix`) by splicing the source text at the exact ranges the YAML
 * parser reports, so comments, quoting, indentation and key order stay as they were. JSON input is
 * YAML to the parser, so it is rewritten the same way.
 *
 * @module
 */

import { isMap, isPair, isScalar, isSeq, LineCounter, parseAllDocuments, type YAMLMap } from "yaml";
import { InputError } from "../errors.ts";
import { DEPRECATED_API_VERSION, GROUP, KIND_SERVER_REGISTRATION, VERSION } from "../model/crds.ts";

/** One edit `migrateText` made (or could not make). */
export interface Change {
  /** 1-based line of the edit in the input. */
  line: number;
  /** 1-based column of the edit in the input. */
  column: number;
  /** What was changed: the apiVersion, or a renamed field. */
  kind: "apiVersion" | "field";
  /** Old text. */
  from: string;
  /** New text. */
  to: string;
  /** Sentence-case description. */
  message: string;
  /** False when the edit was not made (e.g. both toolPrefix and prefix are set). */
  applied: boolean;
}

/** The result of {@linkcode migrateText}. */
export interface MigrateResult {
  /** The migrated text (the input unchanged when nothing needed migrating). */
  text: string;
  /** Every edit, in source order. */
  changes: Change[];
}

interface Edit {
  start: number;
  end: number;
  replacement: string;
}

const RENAMED_FIELDS: Record<string, Record<string, string>> = {
  [KIND_SERVER_REGISTRATION]: { toolPrefix: "prefix" },
};

function pairOf(map: YAMLMap, key: string) {
  return map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === key);
}

/** Migrates every v1alpha1 MCP gateway object in a YAML or JSON text; throws InputError on syntax errors. */
export function migrateText(text: string): MigrateResult {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { version: "1.1", lineCounter, prettyErrors: false });
  if (!Array.isArray(docs)) return { text, changes: [] };
  const edits: Edit[] = [];
  const changes: Change[] = [];
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };

  const visit = (node: unknown) => {
    if (!isMap(node)) return;
    const kindPair = pairOf(node, "kind");
    const kind = kindPair && isScalar(kindPair.value) ? String(kindPair.value.value) : "";
    const items = pairOf(node, "items");
    if (kind.endsWith("List") && items && isSeq(items.value)) {
      for (const item of items.value.items) visit(item);
      return;
    }
    const apiPair = pairOf(node, "apiVersion");
    if (!apiPair || !isScalar(apiPair.value) || apiPair.value.value !== DEPRECATED_API_VERSION) return;
    const scalar = apiPair.value;
    const [start, end] = scalar.range!;
    const source = text.slice(start, end);
    const newVersion = `${GROUP}/${VERSION}`;
    edits.push({ start, end, replacement: source.replace(DEPRECATED_API_VERSION, newVersion) });
    changes.push({
      ...position(start),
      kind: "apiVersion",
      from: DEPRECATED_API_VERSION,
      to: newVersion,
      message: `Changed apiVersion of ${
        kind || "the object"
      } from ${DEPRECATED_API_VERSION} to ${newVersion}`,
      applied: true,
    });
    const renames = RENAMED_FIELDS[kind];
    const specPair = pairOf(node, "spec");
    if (!renames || !specPair || !isMap(specPair.value)) return;
    const spec = specPair.value;
    for (const [from, to] of Object.entries(renames)) {
      const pair = pairOf(spec, from);
      if (!pair || !isScalar(pair.key)) continue;
      const [keyStart, keyEnd] = pair.key.range!;
      const conflict = pairOf(spec, to) !== undefined;
      if (!conflict) {
        edits.push({
          start: keyStart,
          end: keyEnd,
          replacement: text.slice(keyStart, keyEnd).replace(from, to),
        });
      }
      changes.push({
        ...position(keyStart),
        kind: "field",
        from: `spec.${from}`,
        to: `spec.${to}`,
        message: conflict
          ? `Left "spec.${from}" in place because "spec.${to}" is already set; remove one of them`
          : `Renamed "spec.${from}" to "spec.${to}"`,
        applied: !conflict,
      });
    }
  };

  for (const doc of docs) {
    if (doc.errors.length > 0) {
      const error = doc.errors[0];
      const pos = position(error.pos[0]);
      throw new InputError(
        `cannot migrate: YAML syntax error at line ${pos.line}, column ${pos.column}: ${
          error.message.split("\n")[0]
        }`,
      );
    }
    visit(doc.contents);
  }
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const edit of edits) out = out.slice(0, edit.start) + edit.replacement + out.slice(edit.end);
  changes.sort((a, b) => a.line - b.line || a.column - b.column);
  return { text: out, changes };
}
