/**
 * The federated tool list as `kubectl mcp tools` shows it: rows with the owning server, a token
 * estimate per definition, totals, and explanations of why a tool is or is not listed.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { type Column, formatTable, truncate } from "../print/mod.ts";
import type { GatewayStatus } from "../../sim/mod.ts";
import { META_TOOL_NAMES } from "../../sim/discovery.ts";

/** A tool as listed, with the registration it comes from. */
export interface ToolRow {
  /** The name a client calls (prefixed). */
  name: string;
  /** `namespace/name` of the owning registration, or "" when unknown. */
  server: string;
  /** The tool's description. */
  description: string;
  /** Input parameter names; required ones end with `*`. */
  parameters: string[];
  /** Estimated tokens the definition costs in a model's context. */
  tokens: number;
  /** The full definition as the gateway returned it. */
  definition: Tool;
  /** The RateLimitPolicy limits on calling it (`limits.ts`), when the source knows the policies. */
  limits?: string[];
}

/** Where a server's tools come from, for attributing names to servers. */
export interface ServerPrefix {
  /** `namespace/name`. */
  name: string;
  /** Its prefix. */
  prefix: string;
  /** Federated tool names, when the gateway reports them (the simulator's `/status` does). */
  tools?: string[];
}

/**
 * Estimates the tokens a tool definition costs in a model's context: about four characters per
 * token of its JSON (name, description, input schema), the usual rule of thumb for English and JSON.
 */
export function estimateTokens(tool: Tool): number {
  const json = JSON.stringify({
    name: tool.name,
    description: tool.description,
    inputSchema: tool.inputSchema,
  });
  return Math.ceil(json.length / 4);
}

/** The owner `tools` shows for the gateway's own meta-tools (discover_tools, select_tools...). */
export const GATEWAY_OWNER = "(gateway)";

/**
 * Servers to attribute tool names to: the gateway first (its meta-tools as `/status` reports them,
 * or, for a gateway without `/status`, the names upstream's broker uses), then each server.
 */
export function attributionServers(
  status: GatewayStatus | undefined,
  absent: readonly ServerPrefix[] = [],
): ServerPrefix[] {
  return [
    { name: GATEWAY_OWNER, prefix: "", tools: status?.metaTools ?? [...META_TOOL_NAMES] },
    ...(status?.servers ?? []).map((server) => ({
      name: server.name,
      prefix: server.prefix,
      tools: server.tools,
    })),
    ...absent,
  ];
}

/** Finds the server a federated tool name belongs to: the reported list, else the longest prefix. */
export function serverOf(name: string, servers: readonly ServerPrefix[]): string {
  const exact = servers.find((server) => server.tools?.includes(name));
  if (exact) return exact.name;
  const candidates = servers.filter((server) => server.prefix !== "" && name.startsWith(server.prefix));
  candidates.sort((a, b) => b.prefix.length - a.prefix.length);
  if (candidates[0]) return candidates[0].name;
  // The gateway owns only the meta-tools it names, never the names no prefix claims.
  const unprefixed = servers.filter((server) => server.prefix === "" && server.name !== GATEWAY_OWNER);
  return unprefixed.length === 1 ? unprefixed[0].name : "";
}

/** Builds table rows from a tool list. */
export function toolRows(tools: readonly Tool[], servers: readonly ServerPrefix[]): ToolRow[] {
  return tools.map((tool) => {
    const schema = tool.inputSchema as { properties?: Record<string, unknown>; required?: string[] };
    const required = new Set(schema.properties ? schema.required ?? [] : []);
    const parameters = Object.keys(schema.properties ?? {}).map((
      key,
    ) => (required.has(key) ? `${key}*` : key));
    return {
      name: tool.name,
      server: serverOf(tool.name, servers),
      description: tool.description ?? "",
      parameters,
      tokens: estimateTokens(tool),
      definition: tool,
    };
  }).sort((a, b) => a.name.localeCompare(b.name));
}

const COLUMNS: Column<ToolRow>[] = [
  { header: "NAME", value: (row) => row.name },
  { header: "SERVER", value: (row) => row.server },
  { header: "PARAMETERS", value: (row) => row.parameters.join(","), wide: true },
  { header: "TOKENS", value: (row) => String(row.tokens), wide: true, alignRight: true },
  { header: "DESCRIPTION", value: (row) => truncate(firstLine(row.description), 60) },
];

/** Only when the rows carry limits (a replay with RateLimitPolicies), before the description. */
const LIMITS_COLUMN: Column<ToolRow> = {
  header: "LIMITS",
  value: (row) => row.limits?.join("; ") ?? "",
  wide: true,
  empty: "<none>",
};

function firstLine(text: string): string {
  return text.split("\n")[0];
}

/** Totals for the footer line. */
export interface ToolTotals {
  /** Number of tools. */
  tools: number;
  /** Number of distinct servers they come from (the gateway, for its meta-tools, is not one). */
  servers: number;
  /** Sum of the token estimates. */
  tokens: number;
}

/** Sums the rows. */
export function totals(rows: readonly ToolRow[]): ToolTotals {
  return {
    tools: rows.length,
    servers:
      new Set(rows.map((row) => row.server).filter((server) => server !== "" && server !== GATEWAY_OWNER))
        .size,
    tokens: rows.reduce((sum, row) => sum + row.tokens, 0),
  };
}

/** The table and its total line. */
export function formatToolTable(
  rows: readonly ToolRow[],
  options: { wide?: boolean; noHeaders?: boolean } = {},
): string {
  const columns = rows.some((row) => row.limits !== undefined)
    ? [...COLUMNS.slice(0, -1), LIMITS_COLUMN, COLUMNS[COLUMNS.length - 1]]
    : COLUMNS;
  const table = formatTable(columns, rows, options);
  const sum = totals(rows);
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? "" : "s"}`;
  const gateway = rows.some((row) => row.server === GATEWAY_OWNER) ? " and the gateway" : "";
  return table +
    `${plural(sum.tools, "tool")} from ${plural(sum.servers, "server")}${gateway}, ~${sum.tokens} tokens\n`;
}
