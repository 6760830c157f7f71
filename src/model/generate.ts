/**
 * Writes `crds/*.yaml` from the model: `deno task crds`. With `--check` it only reports drift.
 *
 * @module
 */

import { CRDS } from "./crds.ts";
import { renderCrdYaml } from "./render.ts";

/** Directory the CRD files are written to, relative to the repository root. */
export const CRD_DIR = new URL("../../crds/", import.meta.url);

/** The file name and text of every generated CRD. */
export function generatedCrdFiles(): { fileName: string; text: string }[] {
  return CRDS.map((crd) => ({ fileName: crd.fileName, text: renderCrdYaml(crd) }));
}

/** Writes every CRD under `dir`; returns the paths written. */
export async function writeCrds(dir: URL = CRD_DIR): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const { fileName, text } of generatedCrdFiles()) {
    const url = new URL(fileName, dir);
    await Deno.writeTextFile(url, text);
    written.push(url.pathname);
  }
  return written;
}

if (import.meta.main) {
  for (const path of await writeCrds()) console.log(`wrote ${path}`);
}
