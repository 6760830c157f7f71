/**
 * The end every scaffolding verb shares: validate what was scaffolded, then print it
 * (`--dry-run=client`) or server-side apply it (`--dry-run=server` asks the server without
 * persisting), the way `kubectl apply --server-side` does: field manager `kubectl-mcp` unless
 * `--field-manager`, `--force-conflicts` to take over fields, kubectl's `serverside-applied` lines.
 *
 * @module
 */

import type { Flags, FlagSpec } from "./command.ts";
import type { Io } from "./io.ts";
import { OBJECT_FORMATS, printObjects, redactSecrets } from "./output.ts";
import { DRY_RUN_FLAG, FIELD_MANAGER_FLAGS, KUBE_FLAGS, outputFlag } from "./flags.ts";
import { printable } from "./apply.ts";
import type { KubeObject } from "../scaffold/mod.ts";
import { parseManifests } from "../manifest/load.ts";
import { type Finding, gatherLiveFacts, type LiveFacts, validateManifests } from "../validate/mod.ts";
import { formatYamlDocuments } from "../print/mod.ts";
import { KubeApiError, KubectlMcpError, UsageError, ValidationFailedError } from "../errors.ts";
import { applyObject, type DryRun } from "../kube/apply.ts";
import { KubeClient, type KubeObject as ApiObject } from "../kube/client.ts";
import { resolveConfig } from "../kube/config.ts";
import { configOptionsFromFlags } from "../kube/resources.ts";

/** The flags every scaffolding verb ends with: print or apply, and where to. */
export const SCAFFOLD_FLAGS: readonly FlagSpec[] = [
  DRY_RUN_FLAG,
  outputFlag(OBJECT_FORMATS),
  ...FIELD_MANAGER_FLAGS,
  ...KUBE_FLAGS,
];

/** The one NAME a scaffolding verb takes, or a usage error that says so. */
export function singleName(args: readonly string[], verb: string): string {
  if (args.length !== 1) {
    throw new UsageError(`${verb} takes exactly one NAME`, {
      hint: `See 'kubectl mcp ${verb} --help' for usage.`,
    });
  }
  return args[0];
}

/**
 * The namespace scaffolded objects go to: `-n`, else the kubeconfig context's namespace, else
 * `default`. With `--dry-run=client` nothing needs a cluster, so a missing or broken kubeconfig
 * falls back to `default`; otherwise its errors are reported.
 */
export function scaffoldNamespace(flags: Flags, io: Io): string {
  const given = flags.string("namespace");
  if (given) return given;
  try {
    return resolveConfig(configOptionsFromFlags(flags, io)).namespace;
  } catch (error) {
    if (flags.string("dry-run") === "client") return "default";
    throw error;
  }
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

/**
 * What the cluster lacks or holds wrongly outside the scaffold (a route, a Secret, a listener): the
 * scaffold is still applied, since those may be fixed next, but the user hears about it.
 */
const LIVE_WARNING_CODES = new Set([
  ...CLUSTER_REFERENCE_CODES,
  "ref.service-missing",
  "route.shape",
  "secret.label",
  "secret.key-missing",
  "credential.invalid",
  "gateway.listener-missing",
  "policy.section-missing",
]);

/**
 * Validates scaffolded objects; prints warnings, and throws with the errors. Offline, references to
 * objects outside the scaffold are left out; with `live` facts they are checked against the cluster
 * and reported as warnings (the objects may be created next), while prefix conflicts with
 * registrations already in the cluster are errors.
 */
export function validateScaffold(
  io: Io,
  objects: readonly KubeObject[],
  maxToolName: number,
  live?: LiveFacts,
): Finding[] {
  const docs = parseManifests(formatYamlDocuments(objects), "<scaffold>");
  const report = validateManifests(docs, { maxToolName, live });
  const findings = report.findings
    .filter((finding) => live || !CLUSTER_REFERENCE_CODES.has(finding.code))
    .map((finding) =>
      live && LIVE_WARNING_CODES.has(finding.code) ? { ...finding, severity: "warning" as const } : finding
    );
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
export async function finishScaffold(io: Io, objects: KubeObject[], flags: Flags): Promise<number> {
  const maxToolNameText = flags.string("max-tool-name") ?? "64";
  const maxToolName = Number(maxToolNameText);
  if (!Number.isInteger(maxToolName) || maxToolName < 1 || maxToolName > 128) {
    throw new UsageError(
      `invalid value "${maxToolNameText}" for --max-tool-name: expected a whole number from 1 to 128`,
    );
  }
  const dryRun = (flags.string("dry-run") ?? "none") as DryRun;
  if (dryRun === "client") {
    validateScaffold(io, objects, maxToolName);
    printObjects(io, redactSecrets(objects), { output: flags.string("output"), action: "created", dryRun });
    return 0;
  }
  const secrets = secretValues(objects);
  try {
    using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    const docs = parseManifests(formatYamlDocuments(objects), "<scaffold>");
    const gathering = await gatherLiveFacts(client, docs, { signal: io.signal });
    for (const finding of gathering.findings) io.err(`Warning: ${finding.message}\n`);
    validateScaffold(io, objects, maxToolName, gathering.facts);
    const applied: ApiObject[] = [];
    for (const object of objects) {
      const result = await applyObject(client, object as ApiObject, {
        dryRun,
        force: flags.boolean("force-conflicts"),
        fieldManager: flags.string("field-manager"),
        signal: io.signal,
      });
      applied.push(printable(result.object, false));
      // Print as we go: when a later object fails, what was applied is already on record.
      if (!flags.string("output")) {
        printObjects(io, redactSecrets([result.object as KubeObject]), {
          action: "serverside-applied",
          dryRun,
        });
      }
    }
    if (flags.string("output")) {
      printObjects(io, redactSecrets(applied as KubeObject[]), {
        output: flags.string("output"),
        action: "serverside-applied",
        dryRun,
      });
    }
    return 0;
  } catch (error) {
    throw redactError(error, secrets);
  }
}

/** The literal values of the scaffolded Secrets, which must never reach the terminal. */
function secretValues(objects: readonly KubeObject[]): string[] {
  const values: string[] = [];
  for (const object of objects) {
    if (object.kind !== "Secret") continue;
    for (const field of ["stringData", "data"]) {
      const map = object[field];
      if (map && typeof map === "object") {
        for (const value of Object.values(map)) {
          if (typeof value === "string" && value !== "") values.push(value);
        }
      }
    }
  }
  return values;
}

/** An error whose message and hint may quote a Secret value, with the value replaced. */
function redactError(error: unknown, values: readonly string[]): unknown {
  if (values.length === 0 || !(error instanceof Error)) return error;
  const scrub = (text: string | undefined) =>
    text === undefined ? undefined : values.reduce((out, value) => out.replaceAll(value, "<redacted>"), text);
  const leaks = (text: string | undefined) => text !== undefined && scrub(text) !== text;
  const hint = error instanceof KubectlMcpError ? error.hint : undefined;
  if (!leaks(error.message) && !leaks(hint)) return error;
  if (error instanceof KubeApiError) {
    return new KubeApiError(scrub(error.message)!, {
      hint: scrub(hint),
      status: error.status,
      reason: error.reason,
    });
  }
  return new KubectlMcpError(scrub(error.message)!, { hint: scrub(hint) });
}
