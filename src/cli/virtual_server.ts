/**
 * `kubectl mcp virtual-server create`: scaffolds an MCPVirtualServer, a named slice of the
 * federated tool list that clients select with the `X-Mcp-Virtualserver` header.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { listFlag } from "./output.ts";
import { scaffoldVirtualServer } from "../scaffold/mod.ts";
import { finishScaffold, SCAFFOLD_FLAGS, scaffoldNamespace, singleName } from "./scaffold_output.ts";

const createCommand: Command = {
  name: "create",
  summary: "Create an MCPVirtualServer exposing a subset of the federated tools",
  usage: "virtual-server create NAME --tool TOOL [--tool TOOL]... [options]",
  examples: [{
    comment: "A virtual server for a support agent with two tools",
    command:
      "kubectl mcp virtual-server create support --tool github_search --tool github_get_issue -n agents",
  }],
  args: [{ name: "NAME" }],
  flags: [
    {
      name: "tool",
      type: "string",
      multiple: true,
      description: "A prefixed tool name to expose (repeatable, or comma-separated).",
      complete: "tool",
    },
    {
      name: "prompt",
      type: "string",
      multiple: true,
      description: "A prefixed prompt name to expose (repeatable, or comma-separated).",
    },
    { name: "description", type: "string", description: "What this virtual server is for." },
    ...SCAFFOLD_FLAGS,
  ],
  async run({ io, args, flags }) {
    const name = singleName(args, "virtual-server create");
    const object = scaffoldVirtualServer({
      name,
      namespace: scaffoldNamespace(flags, io),
      tools: listFlag(flags.strings("tool")),
      prompts: listFlag(flags.strings("prompt")),
      description: flags.string("description"),
    });
    return await finishScaffold(io, [object], flags);
  },
};

/** The `virtual-server` verb group. */
export const virtualServerCommand: Command = {
  name: "virtual-server",
  aliases: ["virtual-servers", "vs", "mcpvs"],
  summary: "Create virtual servers: named subsets of the federated tools",
  usage: "virtual-server <command> [options]",
  subcommands: [createCommand],
};
