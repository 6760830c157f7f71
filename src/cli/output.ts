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

/** kubectl's client-side apply record, which holds a Secret's values in clear. */
const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * Secret values are never printed: each key of a `v1` Secret's `data` and `stringData` shows
 * `<redacted>`, and kubectl's last-applied record (the whole Secret as JSON) is redacted too.
 */
export function redactSecrets<T extends KubeObjectLike>(objects: readonly T[]): T[] {
  return objects.map((object) => {
    if (object.kind !== "Secret" || object.apiVersion !== "v1") return object;
    const secret = object as T & { data?: unknown; stringData?: unknown };
    const redact = (values: unknown) =>
      Object.fromEntries(
        Object.keys((values ?? {}) as Record<string, unknown>).map((key) => [key, "<redacted>"]),
      );
    const annotations = (object.metadata as { annotations?: Record<string, string> } | undefined)
      ?.annotations;
    return {
      ...object,
      ...(annotations?.[LAST_APPLIED] !== undefined
        ? { metadata: { ...object.metadata, annotations: { ...annotations, [LAST_APPLIED]: "<redacted>" } } }
        : {}),
      ...(secret.stringData ? { stringData: redact(secret.stringData) } : {}),
      ...(secret.data ? { data: redact(secret.data) } : {}),
    };
  });
}
