/**
 * The verb registry and dispatcher behind `kubectl mcp`. Each verb lives in its own file and is
 * listed in {@link ROOT}; dispatch, help and completion all read the same declarations.
 *
 * @module
 */

import { type Command, loaded } from "./command.ts";
import { HELP_FLAG, parseFlags } from "./flags.ts";
import { formatHelp, PROGRAM } from "./help.ts";
import type { Io } from "./io.ts";
import { UsageError } from "../errors.ts";

/** Lists a verb by name and summary; its module loads only when the verb is used. */
function lazy(
  name: string,
  summary: string,
  load: () => Promise<Command>,
  aliases: readonly string[] = [],
): Command {
  let pending: Promise<Command> | undefined;
  return { name, summary, aliases, usage: name, load: () => pending ??= load() };
}

/** Every verb, in the order `kubectl mcp --help` lists them. A test checks the summaries and aliases
 * here against the verbs' own. */
export const VERBS: Command[] = [
  lazy(
    "register",
    "Register an MCP server with the gateway (MCPServerRegistration, HTTPRoute, Secret)",
    async () => (await import("./register.ts")).registerCommand,
  ),
  lazy(
    "validate",
    "Validate MCP gateway manifests offline, or against a cluster with --live",
    async () => (await import("./validate.ts")).validateCommand,
  ),
  lazy(
    "migrate",
    "Rewrite v1alpha1 manifests (toolPrefix) for mcp.kuadrant.io/v1",
    async () => (await import("./migrate.ts")).migrateCommand,
  ),
  lazy(
    "virtual-server",
    "Create virtual servers: named subsets of the federated tools",
    async () => (await import("./virtual_server.ts")).virtualServerCommand,
    ["virtual-servers", "vs", "mcpvs"],
  ),
  lazy(
    "gateway",
    "Set up the MCP gateway on a Gateway listener",
    async () => (await import("./gateway.ts")).gatewayCommand,
    ["gateways", "mcpge"],
  ),
  lazy(
    "apply",
    "Validate manifests, then server-side apply them to the cluster",
    async () => (await import("./apply.ts")).applyCommand,
  ),
  lazy(
    "get",
    "List MCP server registrations, virtual servers or gateway extensions in the cluster",
    async () => (await import("./get.ts")).getCommand,
  ),
  lazy(
    "delete",
    "Delete MCP server registrations, virtual servers or gateway extensions",
    async () => (await import("./delete.ts")).deleteCommand,
  ),
  lazy(
    "crds",
    "Install the MCP gateway CRDs, or compare the cluster's with this plugin's",
    async () => (await import("./crds.ts")).crdsCommand,
  ),
  lazy(
    "simulate",
    "Run a local MCP gateway replaying the cluster's (or the files') registrations",
    async () => (await import("./simulate.ts")).simulateCommand,
    ["sim"],
  ),
  lazy(
    "tools",
    "List the federated tools live, as a client of a virtual server sees them",
    async () => (await import("./tools.ts")).toolsCommand,
    ["tool"],
  ),
  lazy(
    "call",
    "Call a federated tool through the gateway and print the result",
    async () => (await import("./call.ts")).callCommand,
  ),
  lazy(
    "token",
    "Print an access token from a running simulator's dev identity provider (simulate --dev-idp)",
    async () => (await import("./token.ts")).tokenCommand,
  ),
  lazy(
    "auth",
    "Inspect authorization: may an identity call a tool (auth can-i)",
    async () => (await import("./auth.ts")).authCommand,
  ),
  lazy("version", "Print the kubectl-mcp version", async () => (await import("./version.ts")).versionCommand),
];

/** The root command: `kubectl mcp` itself. */
export const ROOT: Command = {
  name: "mcp",
  summary: "Register, validate, list and simulate MCP servers behind the Kuadrant MCP gateway.",
  description:
    "kubectl mcp registers, validates, lists and simulates MCP servers behind the Kuadrant MCP gateway.",
  usage: "<command> [flags] [options]",
  subcommands: VERBS,
};

/** Where a command line leads: the command, the words that selected it, and the rest. */
export interface Resolved {
  /** The command that runs. */
  command: Command;
  /** The words that selected it. */
  path: string[];
  /** Arguments left for the command's own parsing. */
  rest: string[];
}

/** Finds the command a command line selects: leading words that name sub-verbs, at any depth. */
export async function resolveCommand(argv: readonly string[], root: Command = ROOT): Promise<Resolved> {
  let command = await loaded(root);
  const path: string[] = [];
  let index = 0;
  while (index < argv.length && command.subcommands?.length) {
    const word = argv[index];
    if (word.startsWith("-")) break;
    const next = command.subcommands.find((sub) => sub.name === word || sub.aliases?.includes(word));
    if (!next) {
      if (!command.run) {
        const where = [PROGRAM, ...path].join(" ");
        throw new UsageError(`unknown command "${word}" for "${where}"`, {
          hint: `Run '${where} --help' for usage.`,
        });
      }
      break;
    }
    command = await loaded(next);
    path.push(next.name);
    index++;
  }
  return { command, path, rest: argv.slice(index) };
}

/** Runs a whole command line and returns the exit code. Errors propagate to the caller. */
export async function runCommandLine(argv: readonly string[], io: Io, root: Command = ROOT): Promise<number> {
  const { command, path, rest } = await resolveCommand(argv, root);
  const commandLine = [PROGRAM, ...path].join(" ");
  const { args, flags } = parseFlags(rest, [...(command.flags ?? []), HELP_FLAG], commandLine);
  if (flags.boolean("help") || !command.run) {
    if (!command.run && args.length > 0) {
      throw new UsageError(`unknown command "${args[0]}" for "${commandLine}"`, {
        hint: `Run '${commandLine} --help' for usage.`,
      });
    }
    io.out(formatHelp(command, path));
    return 0;
  }
  const code = await command.run({ io, args, flags, path });
  return code ?? 0;
}
