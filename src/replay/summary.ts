/**
 * The replay's start-up summary: one row per registration, and the reasons for every server that
 * serves no tools.
 *
 * @module
 */

import { type Column, formatTable } from "../print/mod.ts";
import type { ReplayWarning, ServerRow } from "./replay.ts";

const COLUMNS: Column<ServerRow>[] = [
  { header: "SERVER", value: (row) => row.name },
  { header: "PREFIX", value: (row) => row.prefix },
  { header: "TARGET", value: (row) => row.target },
  { header: "POD", value: (row) => row.pod ?? "" },
  { header: "TOOLS", value: (row) => String(row.tools), alignRight: true },
  { header: "STATE", value: (row) => row.state },
];

/** The summary table followed by one line per server that is not ready, saying why. */
export function formatServerSummary(rows: readonly ServerRow[]): string {
  if (rows.length === 0) return "No MCPServerRegistrations found.\n";
  let text = formatTable(COLUMNS, rows);
  const problems = rows.filter((row) => row.state !== "ready" && row.reason);
  if (problems.length > 0) {
    text += "\n" + problems.map((row) => `${row.name}: ${row.reason}`).join("\n") + "\n";
  }
  return text;
}

/** A warning as `validate` words it: `warning: <message> [<code>]` and a hint line. */
export function formatReplayWarning(warning: ReplayWarning): string {
  return `warning: ${warning.message} [${warning.code}]\n  hint: ${warning.hint}\n`;
}
