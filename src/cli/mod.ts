/**
 * The verb registry and dispatcher behind `kubectl mcp`. Each verb lives in its own file and is
 * listed in {@link ROOT}; dispatch, help and completion all read the same declarations.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { HELP_FLAG, parseFlags } from "./flags.ts";
import { formatHelp, PROGRAM } from "./help.ts";
import type { Io } from "./io.ts";
import { UsageError } from "../errors.ts";
import { versionCommand } from "./version.ts";
import { simulateCommand } from "./simulate.ts";
import { toolsCommand } from "./tools.ts";
import { callCommand } from "./call.ts";
import { registerCommand } from "./register.ts";
import { virtualServerCommand } from "./virtual_server.ts";
import { gatewayCommand } from "./gateway.ts";
import { applyCommand } from "./apply.ts";
import { getCommand } from "./get.ts";
import { deleteCommand } from "./delete.ts";
import { crdsCommand } from "./crds.ts";
import { validateCommand } from "./validate.ts";
import { migrateCommand } from "./migrate.ts";

/** Every verb, in the order `kubectl mcp --help` lists them. */
export const VERBS: Command[] = [
  registerCommand,
  validateCommand,
  migrateCommand,
  virtualServerCommand,
  gatewayCommand,
  applyCommand,
  getCommand,
  deleteCommand,
  crdsCommand,
  simulateCommand,
  toolsCommand,
  callCommand,
  versionCommand,
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
export function resolveCommand(argv: readonly string[], root: Command = ROOT): Resolved {
  let command = root;
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
    command = next;
    path.push(next.name);
    index++;
  }
  return { command, path, rest: argv.slice(index) };
}

/** Runs a whole command line and returns the exit code. Errors propagate to the caller. */
export async function runCommandLine(argv: readonly string[], io: Io, root: Command = ROOT): Promise<number> {
  const { command, path, rest } = resolveCommand(argv, root);
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
