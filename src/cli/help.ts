/**
 * `--help` text in kubectl's layout: description, examples, options, usage.
 *
 * @module
 */

import type { Command, FlagSpec } from "./command.ts";
import { HELP_FLAG } from "./flags.ts";

/** The program name as users type it. */
export const PROGRAM = "kubectl mcp";

/** Renders the help of a command reached through `path`. */
export function formatHelp(command: Command, path: readonly string[]): string {
  const lines: string[] = [command.description ?? command.summary, ""];
  if (command.subcommands?.length) {
    lines.push(path.length === 0 ? "Commands:" : "Available Commands:");
    const width = Math.max(...command.subcommands.map((sub) => sub.name.length));
    for (const sub of command.subcommands) lines.push(`  ${sub.name.padEnd(width)}   ${sub.summary}`);
    lines.push("");
  }
  if (command.examples?.length) {
    lines.push("Examples:");
    for (const example of command.examples) lines.push(`  # ${example.comment}`, `  ${example.command}`, "");
  }
  const flags = [...(command.flags ?? []), HELP_FLAG];
  lines.push("Options:");
  for (const flag of flags) lines.push(...formatFlag(flag));
  lines.push("Usage:", `  ${PROGRAM} ${command.usage}`, "");
  if (command.subcommands?.length) {
    const full = [PROGRAM, ...path].join(" ");
    lines.push(`Use "${full} <command> --help" for more information about a given command.`);
  }
  return lines.join("\n") + "\n";
}

function formatFlag(flag: FlagSpec): string[] {
  const names = flag.short ? `-${flag.short}, --${flag.name}` : `    --${flag.name}`;
  let shownDefault = "";
  if (flag.type === "boolean") shownDefault = flag.default === true ? "=true" : "=false";
  else if (flag.multiple) shownDefault = "=[]";
  else shownDefault = `='${flag.default ?? ""}'`;
  return [`  ${names}${shownDefault}:`, `\t${flag.description}`, ""];
}
