/**
 * `kubectl mcp validate -f FILE|DIR|-`: offline validation of MCP gateway manifests (schema, CEL,
 * cross-object rules) with `file:line:column` findings; with `--live`, also against the cluster
 * (existing objects, then the API server's own verdict from a server-side dry run).
 *
 * @module
 */

import { parse as parseYaml } from "../manifest/yaml.ts";
import type { Command } from "./command.ts";
import { FILENAME_FLAGS, KUBE_FLAGS, outputFlag } from "./flags.ts";
import { type Io, useColor } from "./io.ts";
import { InputError, UsageError } from "../errors.ts";
import { loadManifests } from "../manifest/mod.ts";
// Not validate/mod.ts: it re-exports the --live code, which loads the API client; offline runs
// (most runs) import that only when --live is given. Nor validate.ts: it loads the CEL engine, which
// most files do not need.
import { validateManifestsLazily } from "../validate/without_cel.ts";
import type { Finding, ValidationReport } from "../validate/types.ts";
// color.ts, not print/mod.ts: its -o yaml printer would load the yaml package a second time.
import { type Palette, palette } from "../print/color.ts";

/**
 * Formats one finding: `file:line:col: error: message [code] (Kind ns/name field)`; the severity is
 * coloured when a palette with colour is given.
 */
export function formatFinding(finding: Finding, paint: Palette = palette(false)): string {
  const where = finding.line > 0 ? `${finding.source}:${finding.line}:${finding.column}` : finding.source;
  const object = finding.kind
    ? ` (${finding.kind} ${finding.namespace ? `${finding.namespace}/` : ""}${finding.name ?? ""}${
      finding.field ? ` ${finding.field}` : ""
    })`
    : "";
  const hint = finding.hint ? `\n  hint: ${finding.hint}` : "";
  const severity = finding.severity === "error"
    ? paint.red(finding.severity)
    : paint.yellow(finding.severity);
  return `${paint.bold(where)}: ${severity}: ${finding.message} ${
    paint.dim(`[${finding.code}]`)
  }${object}${hint}`;
}

/** The summary line of a report, e.g. `2 errors, 1 warning in 3 objects`. */
export function formatSummary(report: ValidationReport): string {
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (report.errors === 0 && report.warnings === 0) return `${plural(report.objects, "object")} valid`;
  return `${plural(report.errors, "error")}, ${plural(report.warnings, "warning")} in ${
    plural(report.objects, "object")
  }`;
}

/** Reads a `--tools` file: YAML or JSON mapping `namespace/name` to tool names (strings or `{name}`). */
export async function readToolNames(path: string): Promise<Record<string, string[]>> {
  let data: unknown;
  try {
    data = parseYaml(await Deno.readTextFile(path));
  } catch (error) {
    throw new InputError(`cannot read tool names from "${path}": ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!data || typeof data !== "object" || Array.isArray(data)) {
    throw new InputError(`tool names file "${path}" must map namespace/name to a list of tool names`);
  }
  const out: Record<string, string[]> = {};
  for (const [key, value] of Object.entries(data)) {
    if (!Array.isArray(value)) {
      throw new InputError(`tool names of "${key}" in "${path}" must be a list`);
    }
    out[key] = value.map((tool) =>
      typeof tool === "string" ? tool : String((tool as { name?: unknown })?.name)
    );
  }
  return out;
}

/** The `validate` verb. */
export const validateCommand: Command = {
  name: "validate",
  summary: "Validate MCP gateway manifests offline, or against a cluster with --live",
  description:
    "Check MCPServerRegistration, MCPGatewayExtension, MCPVirtualServer and Kuadrant AuthPolicy and " +
    "RateLimitPolicy manifests " +
    "the way the API server does (schema, defaults, CEL rules) plus cross-object rules: routes, secrets, " +
    "listeners, policies, prefixes and tool names; of AuthPolicies also their CEL predicates, the headers " +
    "they read and their x-mcp-authorized wristband; of RateLimitPolicies their CEL, headers and windows. With --live, also read the cluster (prefixes of registrations " +
    "already there, HTTPRoutes, Gateways and listeners, Services, the referenced Secrets' labels and keys, " +
    "the old objects for transition rules, the MCPVirtualServers that routes' X-Mcp-Virtualserver " +
    "headers name, the wristband signing keys in Authorino's namespace) and end with a server-side dry run whose rejections are " +
    "reported as apiserver.rejected. Exit 0 when there are no errors, 1 when there are (or warnings " +
    "with --strict) or the cluster cannot be reached, 2 on usage errors.",
  usage:
    "validate -f FILENAME [-R] [--live] [-o text|json] [--strict] [--against OLD] [--max-tool-name N] [--tools FILE]",
  examples: [
    { comment: "Validate a directory of manifests", command: "kubectl mcp validate -f manifests/ -R" },
    {
      comment: "Check an update against the current version",
      command: "kubectl mcp validate -f new.yaml --against old.yaml",
    },
    {
      comment: "Check real prefixed tool names",
      command: "kubectl mcp validate -f servers.yaml --tools tools.json",
    },
    {
      comment: "Check against the cluster: existing objects, then a server-side dry run",
      command: "kubectl mcp validate -f github.yaml --live -n mcp-servers",
    },
  ],
  flags: [
    ...FILENAME_FLAGS,
    outputFlag(["text", "json"], "text"),
    { name: "strict", type: "boolean", description: "Fail on warnings too." },
    {
      name: "against",
      type: "string",
      multiple: true,
      description: "Old manifests (file, directory or -) to check transition rules against.",
      complete: "file",
    },
    {
      name: "max-tool-name",
      type: "string",
      default: "64",
      description: "Tool name length clients accept; longer prefixed names get a warning (at most 128).",
    },
    {
      name: "tools",
      type: "string",
      description: "YAML or JSON file mapping namespace/name of registrations to their upstream tool names.",
      complete: "file",
    },
    {
      name: "live",
      type: "boolean",
      description: "Also check against the cluster, ending with a server-side dry run.",
    },
    ...KUBE_FLAGS,
  ],
  async run({ io, flags, args }) {
    if (args.length) {
      throw new UsageError(`unexpected argument "${args[0]}"`, { hint: "Give manifests with -f." });
    }
    const sources = flags.strings("filename");
    if (sources.length === 0) {
      throw new UsageError("must specify -f", { hint: "See 'kubectl mcp validate --help' for usage." });
    }
    const maxToolName = Number(flags.string("max-tool-name"));
    if (!Number.isInteger(maxToolName) || maxToolName < 1 || maxToolName > 128) {
      throw new UsageError(
        `invalid --max-tool-name "${flags.string("max-tool-name")}": must be an integer 1..128`,
      );
    }
    const against = flags.strings("against");
    if ([...sources, ...against].filter((s) => s === "-").length > 1) {
      throw new UsageError("standard input (-) can be read only once");
    }
    const recursive = flags.boolean("recursive");
    const reading = { recursive, stdin: io.stdin, signal: io.signal };
    const documents = await loadManifests(sources, reading);
    const old = against.length ? await loadManifests(against, reading) : undefined;
    const toolsFile = flags.string("tools");
    const toolNames = toolsFile ? await readToolNames(toolsFile) : undefined;
    const options = { strict: flags.boolean("strict"), maxToolName, old, toolNames };
    let report: ValidationReport;
    if (flags.boolean("live")) {
      const [{ KubeClient }, { configOptionsFromFlags }, { validateLive }] = await Promise.all([
        import("../kube/client.ts"),
        import("../kube/resources.ts"),
        import("../validate/live.ts"),
      ]);
      using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
      report = await validateLive(client, documents, { ...options, signal: io.signal });
    } else {
      const given = KUBE_FLAGS.find((flag) => flag.name !== "namespace" && flags.given(flag.name));
      if (given) {
        throw new UsageError(`--${given.name} needs --live`, {
          hint: "Add --live to check against a cluster; without it, validate reads only the files.",
        });
      }
      // Offline, -n only names the namespace of objects that set none.
      report = await validateManifestsLazily(documents, {
        ...options,
        defaultNamespace: flags.string("namespace"),
      });
    }
    printReport(io, report, flags.string("output") ?? "text");
    return report.ok ? 0 : 1;
  },
};

function printReport(io: Io, report: ValidationReport, output: string): void {
  if (output === "json") {
    io.out(JSON.stringify(report, null, 2) + "\n");
    return;
  }
  // One write: a write per finding is a system call each (400 findings in the benchmark's file).
  const paint = palette(useColor(io));
  let text = "";
  for (const finding of report.findings) text += formatFinding(finding, paint) + "\n";
  io.out(text + formatSummary(report) + "\n");
}
