/**
 * `kubectl mcp delete servers|virtual-servers|gateways NAME...`: delete MCP gateway objects, with
 * kubectl's `kind.group "name" deleted` lines.
 *
 * @module
 */

import type { Command, FlagSpec } from "./command.ts";
import { KUBE_FLAGS } from "./flags.ts";
import { formatError, KubeApiError, UsageError } from "../errors.ts";
import { KubeClient } from "../kube/client.ts";
import { configOptionsFromFlags, RESOURCE_TYPE_WORDS, resourceTypeArg, typeName } from "../kube/resources.ts";
import { VERSION } from "../model/mod.ts";

const IGNORE_NOT_FOUND_FLAG: FlagSpec = {
  name: "ignore-not-found",
  type: "boolean",
  description: 'Treat "resource not found" as a successful delete.',
};

const DELETE_DRY_RUN_FLAG: FlagSpec = {
  name: "dry-run",
  type: "string",
  values: ["none", "server"],
  default: "none",
  description: 'Must be "none" or "server". With server, the server checks the delete but keeps the object.',
};

/** The `delete` verb. */
export const deleteCommand: Command = {
  name: "delete",
  summary: "Delete MCP server registrations, virtual servers or gateway extensions",
  usage: "delete TYPE NAME... [-n NAMESPACE] [--ignore-not-found]",
  examples: [
    { comment: "Delete a server registration", command: "kubectl mcp delete server github" },
    {
      comment: "Delete virtual servers, ignoring those already gone",
      command: "kubectl mcp delete mcpvs a b --ignore-not-found",
    },
  ],
  args: [{ name: "TYPE", values: RESOURCE_TYPE_WORDS }, { name: "NAME", complete: "server" }],
  flags: [...KUBE_FLAGS, IGNORE_NOT_FOUND_FLAG, DELETE_DRY_RUN_FLAG],
  async run({ io, flags, args }) {
    const { type, names } = resourceTypeArg(args, "delete");
    if (names.length === 0) {
      throw new UsageError(`resource name may not be empty`, {
        hint: `Usage: kubectl mcp delete ${args[0]} NAME...`,
      });
    }
    using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    const resource = await client.resourceFor(`${type.crd.group}/${VERSION}`, type.crd.kind);
    const dryRun = flags.string("dry-run") === "server";
    const failures: unknown[] = [];
    for (const name of names) {
      try {
        const deleted = await client.delete(resource, name, {
          ignoreNotFound: flags.boolean("ignore-not-found"),
          dryRun,
        });
        if (deleted) io.out(`${typeName(resource)} "${name}" deleted${dryRun ? " (server dry run)" : ""}\n`);
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) {
      for (const failure of failures) io.err(formatError(failure) + "\n");
      throw new KubeApiError(`${failures.length} of ${names.length} objects could not be deleted`);
    }
  },
};
