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
import { parseManifests } from "../manifest/load.ts";
import { type Finding, validateManifests } from "../validate/mod.ts";
import { formatYamlDocuments } from "../print/mod.ts";
import { UsageError, ValidationFailedError } from "../errors.ts";

/** Secret values given on the command line are never echoed back. */
export function redactSecrets(objects: readonly KubeObject[]): KubeObject[] {
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

/**
 * References to objects that are not scaffolded here (an existing HTTPRoute, a Gateway) are checked
 * against the cluster when applying; offline they would only repeat that the files do not hold them.
 */
const CLUSTER_REFERENCE_CODES = new Set([
  "ref.route-missing",
  "ref.gateway-missing",
  "ref.secret-missing",
  "policy.target-missing",
]);

/** Validates scaffolded objects; prints warnings, and throws with the errors. */
export function validateScaffold(io: Io, objects: readonly KubeObject[], maxToolName: number): Finding[] {
  const docs = parseManifests(formatYamlDocuments(objects), "<scaffold>");
  const report = validateManifests(docs, { maxToolName });
  const findings = report.findings.filter((finding) => !CLUSTER_REFERENCE_CODES.has(finding.code));
  for (const finding of findings) {
    const where = [finding.kind, [finding.namespace, finding.name].filter(Boolean).join("/"), finding.field]
      .filter(Boolean).join(" ");
    const label = finding.severity === "error" ? "error" : "Warning";
    io.err(`${label}: ${finding.message} (${where}) [${finding.code}]\n`);
  }
  const errors = findings.filter((finding) => finding.severity === "error");
  if (errors.length > 0) {
    throw new ValidationFailedError(
      `the scaffolded objects fail validation with ${errors.length} error(s); nothing was created`,
    );
  }
  return findings;
}

/** Validates scaffolded objects, then prints or applies them; returns the exit code. */
export function finishScaffold(io: Io, objects: KubeObject[], flags: Flags): Promise<number> {
  const maxToolNameText = flags.string("max-tool-name") ?? "64";
  const maxToolName = Number(maxToolNameText);
  if (!Number.isInteger(maxToolName) || maxToolName < 1 || maxToolName > 128) {
    throw new UsageError(
      `invalid value "${maxToolNameText}" for --max-tool-name: expected a whole number from 1 to 128`,
    );
  }
  validateScaffold(io, objects, maxToolName);
  const dryRun = flags.string("dry-run") ?? "none";
  printObjects(io, redactSecrets(objects), { output: flags.string("output"), action: "created", dryRun });
  return Promise.resolve(0);
}
