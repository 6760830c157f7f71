/**
 * `kubectl mcp apply -f FILE|DIR|-`: validate the manifests offline first (errors stop it), then
 * server-side apply every object, as `kubectl apply --server-side` would.
 *
 * @module
 */

import type { Command, FlagSpec } from "./command.ts";
import { DRY_RUN_FLAG, FIELD_MANAGER_FLAGS, FILENAME_FLAGS, KUBE_FLAGS, outputFlag } from "./flags.ts";
import type { Io } from "./io.ts";
import { printObjects, redactSecrets } from "./output.ts";
import { formatError, KubeApiError, UsageError, ValidationFailedError } from "../errors.ts";
import { applyObject, type ApplyResult, type DryRun } from "../kube/apply.ts";
import { KubeClient, type KubeObject } from "../kube/client.ts";
import { configOptionsFromFlags } from "../kube/resources.ts";
import { loadManifests } from "../manifest/mod.ts";
import { type Finding, validateManifests } from "../validate/mod.ts";

/** `--show-managed-fields`, as in kubectl. */
export const SHOW_MANAGED_FIELDS_FLAG: FlagSpec = {
  name: "show-managed-fields",
  type: "boolean",
  description: "If true, keep the managedFields when printing objects in JSON or YAML format.",
};

/** The `apply` verb. */
export const applyCommand: Command = {
  name: "apply",
  summary: "Validate manifests, then server-side apply them to the cluster",
  description:
    "Validate MCP gateway manifests offline (schema, CEL rules, cross-object checks) and, when there are no errors, server-side apply every object with field manager kubectl-mcp.",
  usage: "apply -f FILENAME [-R] [--dry-run=client|server] [--force-conflicts] [-o yaml|json|name]",
  examples: [
    { comment: "Apply a registration", command: "kubectl mcp apply -f github.yaml" },
    {
      comment: "Ask the server whether a directory would apply, without changing anything",
      command: "kubectl mcp apply -f manifests/ -R --dry-run=server",
    },
    { comment: "Apply from standard input", command: "cat github.yaml | kubectl mcp apply -f -" },
  ],
  flags: [
    ...FILENAME_FLAGS,
    ...KUBE_FLAGS,
    DRY_RUN_FLAG,
    ...FIELD_MANAGER_FLAGS,
    outputFlag(["yaml", "json", "name"]),
    SHOW_MANAGED_FIELDS_FLAG,
  ],
  async run({ io, flags, args }) {
    if (args.length) {
      throw new UsageError(`unexpected argument "${args[0]}"`, { hint: "Give manifests with -f." });
    }
    const sources = flags.strings("filename");
    if (sources.length === 0) {
      throw new UsageError("must specify one of -f or -k", {
        hint: "See 'kubectl mcp apply --help' for usage.",
      });
    }
    const documents = await loadManifests(sources, {
      recursive: flags.boolean("recursive"),
      stdin: io.stdin,
      signal: io.signal,
    });
    const config = configOptionsFromFlags(flags, io);
    using client = KubeClient.fromOptions(config);
    const report = validateManifests(documents, { defaultNamespace: client.namespace });
    printFindings(io, report.findings);
    if (report.errors > 0) {
      throw new ValidationFailedError(
        `validation failed with ${report.errors} error${report.errors === 1 ? "" : "s"}; nothing was applied`,
        { hint: "Fix the errors above, or see them all with 'kubectl mcp validate -f ...'." },
      );
    }
    const objects = documents.map((doc) => doc.object).filter((object): object is KubeObject =>
      object !== null && typeof object === "object"
    );
    if (objects.length === 0) throw new UsageError("no objects passed to apply");
    const dryRun = flags.string("dry-run") as DryRun;
    const results: ApplyResult[] = [];
    const failures: unknown[] = [];
    for (const object of objects) {
      try {
        results.push(
          await applyObject(client, object, {
            dryRun,
            force: flags.boolean("force-conflicts"),
            fieldManager: flags.string("field-manager"),
            namespace: config.namespace,
            namespaceExplicit: Boolean(config.namespace),
            signal: io.signal,
          }),
        );
      } catch (error) {
        failures.push(error);
      }
    }
    // Unlike kubectl, a Secret's values are not echoed back (see redactSecrets).
    const shown = redactSecrets(
      results.map((result) => printable(result.object, flags.boolean("show-managed-fields"))),
    );
    printObjects(io, shown, { output: flags.string("output"), action: "serverside-applied", dryRun });
    if (failures.length === 1 && results.length === 0) throw failures[0];
    if (failures.length) {
      for (const failure of failures) io.err(formatError(failure) + "\n");
      throw new KubeApiError(`${failures.length} of ${objects.length} objects failed to apply`);
    }
  },
};

/** kubectl hides managedFields in `-o yaml|json` unless `--show-managed-fields`. */
export function printable(object: KubeObject, showManagedFields: boolean): KubeObject {
  if (showManagedFields || !object.metadata?.managedFields) return object;
  const copy = { ...object, metadata: { ...object.metadata } };
  delete copy.metadata.managedFields;
  return copy;
}

/** Prints findings as `file:line:col: severity: message [code]`, with hints indented below. */
function printFindings(io: Io, findings: readonly Finding[]): void {
  for (const finding of findings) {
    const where = finding.line > 0 ? `${finding.source}:${finding.line}:${finding.column}` : finding.source;
    io.err(`${where}: ${finding.severity}: ${finding.message} [${finding.code}]\n`);
    if (finding.hint) io.err(`  hint: ${finding.hint}\n`);
  }
}
