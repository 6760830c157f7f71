/**
 * The replay's start-up summary: one row per registration, and the reasons for every server that
 * serves no tools; one row per AuthPolicy, and what of them is not applied or not evaluated here; one
 * row per RateLimitPolicy, and what of them is not applied.
 *
 * @module
 */

import { type Column, formatTable } from "../print/mod.ts";
import type { ReplayAuth, ReplayWarning, ServerRow } from "./replay.ts";
import type { PolicyRow } from "../../sim/auth/auth_policy.ts";
import type { RateLimitSummary } from "../../sim/ratelimit/gate.ts";
import type { RateLimitRow } from "../../sim/ratelimit/rate_limit_policy.ts";

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

/** Rule groups in the order Authorino evaluates them. */
const GROUPS = ["when", "patterns", "authentication", "metadata", "authorization", "response", "callbacks"];

const POLICY_COLUMNS: Column<PolicyRow>[] = [
  { header: "AUTHPOLICY", value: (row) => row.policy },
  { header: "TARGET", value: (row) => row.target, empty: "<none>" },
  {
    header: "PHASE",
    value: (row) => row.phase === "rules" ? "rules" : `${row.phase} (${row.strategy})`,
  },
  {
    header: "RULES",
    value: (row) =>
      [...GROUPS, ...Object.keys(row.rules).filter((group) => !GROUPS.includes(group))]
        .filter((group) => row.rules[group]?.length)
        .map((group) => `${group}: ${row.rules[group].join(",")}`).join("; "),
    empty: "<none>",
  },
  { header: "APPLIES TO", value: (row) => row.appliesTo.join(", "), empty: "<none>" },
];

/**
 * The AuthPolicies as the replay applies them: a table (policy, target, phase, rules by group,
 * where it applies), then why each policy that applies nowhere does not, each rule the simulator
 * cannot evaluate with its reason (which says what it does instead), and the notes (issuers, unread
 * kinds).
 */
export function formatAuthSummary(auth: ReplayAuth): string {
  const { rows, problems, unsupported } = auth.summary;
  if (rows.length === 0 && auth.notes.length === 0) return "";
  let text = rows.length ? formatTable(POLICY_COLUMNS, rows) : "No AuthPolicies found.\n";
  // Every policy that applies nowhere says why (missing target, invalid, superseded, serves nothing).
  const reasons = rows.filter((row) => row.appliesTo.length === 0).map((row) =>
    `${row.policy}: not applied: ${
      (row.reason ?? problems.find((p) => p.policy === row.policy)?.message ?? "no target").replace(
        /(;\s*not applied)?\.?$/,
        "",
      )
    }`
  );
  // One line per rule, however many places it applies to.
  const rules = new Map<string, { reason: string; where: string[] }>();
  for (const rule of unsupported) {
    const key = `${rule.sources.join(", ")} ${rule.path}`;
    const entry = rules.get(key) ?? { reason: rule.reason, where: [] };
    if (!entry.where.includes(rule.where)) entry.where.push(rule.where);
    rules.set(key, entry);
  }
  const lines = [
    ...reasons,
    ...[...rules].map(([key, entry]) => `unsupported: ${key} (${entry.where.join(", ")}): ${entry.reason}`),
    ...auth.notes.map((note) => `note: ${note}`),
  ];
  if (lines.length) text += "\n" + lines.join("\n") + "\n";
  return text;
}

const RATE_LIMIT_COLUMNS: Column<RateLimitRow>[] = [
  { header: "RATELIMITPOLICY", value: (row) => row.policy },
  { header: "TARGET", value: (row) => row.target, empty: "<none>" },
  {
    header: "PHASE",
    value: (row) => row.phase === "limits" ? "limits" : `${row.phase} (${row.strategy})`,
  },
  {
    header: "LIMITS",
    value: (row) => Object.entries(row.limits).map(([name, rates]) => `${name}: ${rates}`).join("; "),
    empty: "<none>",
  },
  { header: "APPLIES TO", value: (row) => row.appliesTo.join(", "), empty: "<none>" },
];

/**
 * The RateLimitPolicies as the replay applies them: a table (policy, target, phase, limits with their
 * rates, where it applies), then why each policy that applies nowhere does not and each limit that is
 * not applied. Empty when there is no RateLimitPolicy.
 */
export function formatRateLimitSummary(summary: RateLimitSummary): string {
  const { rows, problems } = summary;
  if (rows.length === 0 && problems.length === 0) return "";
  let text = rows.length ? formatTable(RATE_LIMIT_COLUMNS, rows) : "No RateLimitPolicies applied.\n";
  const lines = [
    ...rows.filter((row) => row.appliesTo.length === 0 && row.reason).map((row) =>
      `${row.policy}: not applied: ${row.reason!.replace(/(;\s*not applied)?\.?$/, "")}`
    ),
    ...problems.filter((p) =>
      !rows.some((row) => row.policy === p.policy && row.appliesTo.length === 0 && row.reason)
    )
      .map((p) => `${p.policy}: ${p.message}`),
  ];
  if (lines.length) text += "\n" + lines.join("\n") + "\n";
  return text;
}
