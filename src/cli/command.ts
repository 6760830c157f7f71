/**
 * How a verb is declared: its flags, arguments and help. The declarations drive parsing, `--help`
 * and shell completion, so a flag added here is documented and completed without more code.
 *
 * @module
 */

import type { Io } from "./io.ts";

/** Where the values of a flag or argument come from when the shell completes them. */
export type CompletionSource =
  | "file"
  | "dir"
  | "namespace"
  | "context"
  | "cluster"
  | "user"
  | "server"
  | "virtual-server"
  | "gateway-extension"
  | "gateway"
  | "route"
  | "secret"
  | "tool"
  | "resource-type";

/** One completion candidate. */
export interface Candidate {
  /** The word offered. */
  value: string;
  /** Shown beside it by shells that support descriptions. */
  description?: string;
}

/** Looks up dynamic values (namespaces, servers, contexts) for a completion source. */
export type CompletionProvider = (
  source: CompletionSource,
  context: { flags: Flags; io: Io },
) => Promise<Candidate[]>;

/** A flag a command accepts. */
export interface FlagSpec {
  /** Long name without dashes, e.g. `namespace`. */
  name: string;
  /** One-letter short name without the dash, e.g. `n`. */
  short?: string;
  /** `boolean` flags take no value; `string` flags take one (`--flag=value` or `--flag value`). */
  type: "boolean" | "string";
  /** May be given more than once; the values are collected in order. */
  multiple?: boolean;
  /** The value when the flag is absent. */
  default?: string | boolean;
  /** One line for `--help`. */
  description: string;
  /** The allowed values; anything else is a usage error. Also offered by completion. */
  values?: readonly string[];
  /** What completion offers for the value. */
  complete?: CompletionSource;
}

/** A positional argument, for help and completion. */
export interface ArgSpec {
  /** Name shown in usage, e.g. `NAME`. */
  name: string;
  /** What completion offers. */
  complete?: CompletionSource;
  /** Fixed choices, e.g. resource types. */
  values?: readonly string[];
}

/** Parsed flag values with typed accessors. */
export interface Flags {
  /** The string value of a flag, or `undefined` when absent and without default. */
  string(name: string): string | undefined;
  /** The boolean value of a flag. */
  boolean(name: string): boolean;
  /** Every value of a repeatable flag, in order (comma-separated values are not split). */
  strings(name: string): string[];
  /** Whether the flag was given on the command line (not merely defaulted). */
  given(name: string): boolean;
}

/** What a command's `run` receives. */
export interface CommandContext {
  /** Where to read and write. */
  io: Io;
  /** Positional arguments after the command path. */
  args: string[];
  /** Parsed flags. */
  flags: Flags;
  /** The words that selected this command, e.g. `["virtual-server", "create"]`. */
  path: string[];
}

/** A verb or sub-verb of `kubectl mcp`. */
export interface Command {
  /** The word that selects the command. */
  name: string;
  /** Other words that select it (kubectl-style short forms). */
  aliases?: readonly string[];
  /** One line for the verb list. */
  summary: string;
  /** Longer help text shown by `--help`. */
  description?: string;
  /** The usage line after `kubectl mcp`, e.g. `validate -f FILENAME [options]`. */
  usage: string;
  /** Examples: each a comment line and a command. */
  examples?: readonly { comment: string; command: string }[];
  /** Flags besides `--help`. */
  flags?: readonly FlagSpec[];
  /** Positional arguments, for help and completion. */
  args?: readonly ArgSpec[];
  /** Sub-verbs (e.g. `crds install`). A command with sub-verbs and no `run` prints help. */
  subcommands?: readonly Command[];
  /** Runs the command and returns the exit code (0 when it returns nothing). */
  run?(context: CommandContext): Promise<number | void>;
  /**
   * Loads the full command. A verb listed with only its name and summary loads its module (and the
   * libraries behind it) when it is selected, so `--help`, completion and small verbs start fast.
   */
  load?(): Promise<Command>;
}

/** Returns the full command, loading it first when it is listed lazily. */
export async function loaded(command: Command): Promise<Command> {
  return command.load ? await command.load() : command;
}
