/**
 * The validate corpus (`test/corpus/`): its manifests and their expectations, read the same way by
 * the offline corpus test and by the comparison with a real API server.
 *
 * @module
 */

import { loadManifests, type ManifestDocument } from "../../src/manifest/mod.ts";

/** Absolute path of the corpus directory, with a trailing slash. */
export const CORPUS: string = new URL("../corpus/", import.meta.url).pathname;

/** A finding as the corpus expects it. */
export interface ExpectedFinding {
  severity: string;
  code: string;
  line: number;
  column: number;
  field?: string;
  /** The exact message, when the case pins it (the object, field and fix it names). */
  message?: string;
}

/** `<case>.expect.jsonc` beside each manifest. */
export interface Expectation {
  /** What a real kube-apiserver with the CRDs says to a server-side dry run of the file. */
  apiserver: "accept" | "reject";
  /** Validation options for this case. */
  options?: { maxToolName?: number; toolNames?: Record<string, string[]>; strict?: boolean };
  /** An older version of the objects (`<case>.old.yaml`), for transition rules. */
  old?: string;
  /** Every finding the validator must report, in order. */
  findings: ExpectedFinding[];
}

/** One corpus case: the manifest, its expectation, and the old objects when it has some. */
export interface CorpusCase {
  /** Path relative to the corpus, e.g. `schema-pattern/prefix-uppercase.yaml`. */
  name: string;
  /** Absolute path of the manifest. */
  file: string;
  /** Absolute path of the old objects, when the case has them. */
  oldFile?: string;
  /** What the case expects. */
  expect: Expectation;
}

/** Every manifest of the corpus, sorted, without the `.old.yaml` companions. */
export function corpusFiles(dir: string = CORPUS): string[] {
  const out: string[] = [];
  for (const entry of [...Deno.readDirSync(dir)].sort((a, b) => a.name.localeCompare(b.name))) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) out.push(...corpusFiles(`${path}/`));
    else if (/\.(ya?ml|json)$/.test(entry.name) && !entry.name.endsWith(".old.yaml")) out.push(path);
  }
  return out;
}

/** Reads a case's expectation. */
export async function readCase(file: string): Promise<CorpusCase> {
  const expect: Expectation = JSON.parse(
    await Deno.readTextFile(`${file.replace(/\.(ya?ml|json)$/, "")}.expect.jsonc`),
  );
  const oldFile = expect.old ? `${file.slice(0, file.lastIndexOf("/") + 1)}${expect.old}` : undefined;
  return { name: file.slice(CORPUS.length), file, oldFile, expect };
}

/** Loads a case's manifest and old objects. */
export async function loadCase(
  corpusCase: CorpusCase,
): Promise<{ docs: ManifestDocument[]; old?: ManifestDocument[] }> {
  const docs = await loadManifests([corpusCase.file]);
  const old = corpusCase.oldFile ? await loadManifests([corpusCase.oldFile]) : undefined;
  return { docs, old };
}
