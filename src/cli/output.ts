/**
 * Output of objects a verb created or would create, shared by the scaffolding and apply verbs:
 * `-o yaml` (a multi-document stream that can be saved and applied), `-o json`, `-o name`, and
 * kubectl's default `kind.group/name action` lines.
 *
 * @module
 */

import type { Io } from "./io.ts";
import { formatJson, formatName, formatYamlDocuments, type KubeObjectLike } from "../print/mod.ts";

/** Output formats for created objects. */
export const OBJECT_FORMATS = ["yaml", "json", "name"] as const;

/** Options for {@link printObjects}. */
export interface PrintObjectsOptions {
  /** `-o`: yaml, json or name; otherwise action lines. */
  output?: string;
  /** The word after each name in action lines, e.g. `created`, `serverside-applied`. */
  action: string;
  /** `client` or `server` appends kubectl's `(dry run)` / `(server dry run)` to action lines. */
  dryRun?: string;
}

/** Prints objects as a verb's result. */
export function printObjects(io: Io, objects: readonly KubeObjectLike[], options: PrintObjectsOptions): void {
  switch (options.output) {
    case "yaml":
      io.out(formatYamlDocuments(objects));
      return;
    case "json":
      io.out(formatJson(objects));
      return;
    case "name":
      for (const object of objects) io.out(`${formatName(object)}\n`);
      return;
  }
  const suffix = options.dryRun === "client"
    ? " (dry run)"
    : options.dryRun === "server"
    ? " (server dry run)"
    : "";
  for (const object of objects) io.out(`${formatName(object)} ${options.action}${suffix}\n`);
}

/** Splits repeatable list flags given as `--tool a --tool b` or `--tool a,b`. */
export function listFlag(values: readonly string[]): string[] {
  return values.flatMap((value) => value.split(",")).map((value) => value.trim()).filter((value) =>
    value !== ""
  );
}
