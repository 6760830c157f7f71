/**
 * `kubectl mcp crds install|status`: install the MCP gateway CRDs with server-side apply, and
 * show whether the cluster's CRDs are installed, served and the same as the plugin's.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { DRY_RUN_FLAG, FIELD_MANAGER_FLAGS, KUBE_FLAGS, NO_HEADERS_FLAG, outputFlag } from "./flags.ts";
import { describeApplied, type DryRun } from "../kube/apply.ts";
import { KubeClient } from "../kube/client.ts";
import { crdStatus, installCrds } from "../kube/crds.ts";
import { configOptionsFromFlags } from "../kube/resources.ts";
import { formatJson, formatName, formatTable, formatYaml } from "../print/mod.ts";

const installCommand: Command = {
  name: "install",
  summary: "Install or update the MCP gateway CRDs (server-side apply) and wait until they are served",
  usage: "crds install [--dry-run=server] [--force-conflicts] [-o name|yaml|json]",
  examples: [
    { comment: "Install the CRDs into the current cluster", command: "kubectl mcp crds install" },
    {
      comment: "See what the server would store, without changing anything",
      command: "kubectl mcp crds install --dry-run=server -o yaml",
    },
  ],
  flags: [
    ...KUBE_FLAGS,
    DRY_RUN_FLAG,
    ...FIELD_MANAGER_FLAGS,
    outputFlag(["name", "yaml", "json"]),
  ],
  async run({ io, flags }) {
    using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    const results = await installCrds(client, {
      dryRun: flags.string("dry-run") as DryRun,
      force: flags.boolean("force-conflicts"),
      fieldManager: flags.string("field-manager"),
      signal: io.signal,
    });
    const output = flags.string("output");
    if (output === "json") io.out(formatJson(results.map((r) => r.object)));
    else if (output === "yaml") io.out(formatYaml(results.map((r) => r.object)));
    else if (output === "name") { for (const r of results) io.out(formatName(r.object) + "\n"); }
    else for (const r of results) io.out(describeApplied(r) + "\n");
  },
};

const statusCommand: Command = {
  name: "status",
  summary: "Show which MCP gateway CRDs are installed, their versions, and whether they match this plugin's",
  usage: "crds status [-o wide|json|yaml] [--no-headers]",
  flags: [...KUBE_FLAGS, outputFlag(["wide", "json", "yaml"]), NO_HEADERS_FLAG],
  async run({ io, flags }) {
    using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    const rows = await crdStatus(client, { signal: io.signal });
    const output = flags.string("output");
    if (output === "json") return void io.out(JSON.stringify(rows, null, 4) + "\n");
    if (output === "yaml") return void io.out(formatYaml([{ crds: rows }]));
    io.out(formatTable(
      [
        { header: "NAME", value: (r) => r.name },
        { header: "INSTALLED", value: (r) => (r.installed ? "yes" : "no") },
        { header: "VERSION", value: (r) => r.versions || "-" },
        { header: "ESTABLISHED", value: (r) => (r.installed ? String(r.established) : "-"), wide: true },
        {
          header: "MATCHES",
          value: (r) => (!r.installed ? "-" : r.matches ? "yes" : `no (${r.differences.length} differences)`),
        },
      ],
      rows,
      { wide: output === "wide", noHeaders: flags.boolean("no-headers") },
    ));
    if (rows.some((r) => !r.installed || !r.matches)) {
      io.err("Run 'kubectl mcp crds install' to install or update the CRDs.\n");
    }
  },
};

/** The `crds` verb and its sub-verbs. */
export const crdsCommand: Command = {
  name: "crds",
  summary: "Install the MCP gateway CRDs, or compare the cluster's with this plugin's",
  usage: "crds <install|status> [options]",
  subcommands: [installCommand, statusCommand],
};
