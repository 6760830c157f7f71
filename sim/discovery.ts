/**
 * Progressive discovery and tags, as upstream's broker serves them: meta-tools the gateway answers
 * itself so a client can browse a large federated tool set without loading every schema.
 *
 * - `discover_tools {category?}`: the servers with tools visible to the request (name, categories,
 *   hint, tool names; no schemas), sorted by name, optionally only those of one category.
 * - `select_tools {tools}`: scopes the session's `tools/list` to those tools (the meta-tools stay)
 *   and announces it with `notifications/tools/list_changed`; an empty list ends the scope.
 * - With more federated tools than the discovery threshold, a session without a scope lists only
 *   the meta-tools.
 * - `list_tags`, `filter_tools_by_tags {tags}`: served while any server has tags.
 *
 * As upstream: a virtual server filters the meta-tools like any other tool, a server whose tool
 * would take a meta-tool's name has its tools withheld (a conflict with `broker`), and scopes live
 * in the memory of the replica that set them.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { ServerConfig } from "./config.ts";
import type { FederatedTool } from "./federation.ts";

/** The server name meta-tools are reported under in conflicts (upstream's `kuadrant/id`). */
export const BROKER_SERVER = "broker";
/** Browses servers, categories and tool names. */
export const DISCOVER_TOOLS = "discover_tools";
/** Scopes a session's tool list. */
export const SELECT_TOOLS = "select_tools";
/** Lists the tags of servers with visible tools. */
export const LIST_TAGS = "list_tags";
/** Lists the tools of servers carrying every given tag. */
export const FILTER_TOOLS_BY_TAGS = "filter_tools_by_tags";
/** Every meta-tool name upstream's broker may serve. */
export const META_TOOL_NAMES: readonly string[] = [
  DISCOVER_TOOLS,
  SELECT_TOOLS,
  LIST_TAGS,
  FILTER_TOOLS_BY_TAGS,
];
/** Most tools one `select_tools` call may name (upstream's limit). */
export const MAX_SELECT_TOOLS = 250;
/** Categories of a server that names none (the CRD's default). */
export const DEFAULT_CATEGORY = "uncategorised";

// The meta-tools as broker v0.9.0 defines them (discovery.go, tags_handler.go): names, descriptions
// and schemas verbatim, and `annotations: {}` as its tools/list gives every tool without any.
const DISCOVER_TOOL: Tool = {
  name: DISCOVER_TOOLS,
  description: "Browse available servers and tools. Returns server names, categories, hints, and tool " +
    "names without full schemas. Use the optional category parameter to filter by category.",
  inputSchema: {
    type: "object",
    properties: {
      category: {
        type: "string",
        description:
          "Filter servers by category (case-insensitive match against any element in the server's category list)",
      },
    },
  },
  annotations: {},
};

const SELECT_TOOL: Tool = {
  name: SELECT_TOOLS,
  description: "Scope your session to a specific set of tools. After calling this, subsequent tools/list " +
    "calls will return only the selected tools with full schemas. Pass an empty list to reset to the full " +
    "tool set.",
  inputSchema: {
    type: "object",
    properties: {
      tools: {
        type: "array",
        description:
          "List of tool names to include in your session scope. Pass an empty array to reset to the full tool set.",
        items: { type: "string" },
      },
    },
    required: ["tools"],
  },
  annotations: {},
};

const LIST_TAGS_TOOL: Tool = {
  name: LIST_TAGS,
  description: "List all tags across registered MCP servers",
  inputSchema: { type: "object" },
  annotations: {},
};

const FILTER_BY_TAGS_TOOL: Tool = {
  name: FILTER_TOOLS_BY_TAGS,
  description: "Return tools available through the gateway that match all of the given tags",
  inputSchema: {
    type: "object",
    properties: {
      tags: {
        type: "array",
        description: "list of tags to filter by (must not be empty)",
        items: { type: "string" },
      },
    },
    required: ["tags"],
  },
  annotations: {},
};

/** The meta-tools the gateway serves for `servers`, discovery on or off. */
export function metaTools(servers: readonly ServerConfig[], discovery: boolean): Tool[] {
  const tools = discovery ? [DISCOVER_TOOL, SELECT_TOOL] : [];
  if (servers.some((s) => s.tags?.length)) tools.push(LIST_TAGS_TOOL, FILTER_BY_TAGS_TOOL);
  return tools;
}

/** The tools each session scoped itself to with `select_tools`, in this process. */
export class ToolScopes {
  #scopes = new Map<string, ReadonlySet<string>>();

  /** The scope of a session; undefined when it has none (every tool, subject to the threshold). */
  get(sessionId: string): ReadonlySet<string> | undefined {
    return this.#scopes.get(sessionId);
  }

  /** Sets a session's scope; an empty list removes it. */
  set(sessionId: string, tools: readonly string[]): void {
    if (tools.length) this.#scopes.set(sessionId, new Set(tools));
    else this.#scopes.delete(sessionId);
  }

  /** Forgets a session (it ended). */
  delete(sessionId: string): void {
    this.#scopes.delete(sessionId);
  }

  /** Sessions with a scope. */
  get size(): number {
    return this.#scopes.size;
  }
}

/**
 * The tools a session lists after discovery: its scope (plus the meta-tools) when it has one, else
 * every tool unless more than `threshold` (when above 0) are federated, then the meta-tools only.
 */
export function applyDiscovery(
  tools: readonly Tool[],
  meta: ReadonlySet<string>,
  scope: ReadonlySet<string> | undefined,
  threshold: number,
): Tool[] {
  if (scope) return tools.filter((t) => meta.has(t.name) || scope.has(t.name));
  if (threshold <= 0) return [...tools];
  const federated = tools.filter((t) => !meta.has(t.name)).length;
  return federated > threshold ? tools.filter((t) => meta.has(t.name)) : [...tools];
}

/** What a meta-tool sees of the gateway for one request. */
export interface DiscoveryView {
  /** Configured servers, in config order. */
  servers: readonly ServerConfig[];
  /** Federated tools visible to the request (virtual server applied), by the name clients call. */
  visible: ReadonlyMap<string, FederatedTool>;
}

const text = (value: unknown): CallToolResult => ({
  content: [{ type: "text", text: JSON.stringify(value) }],
});

const toolError = (message: string): CallToolResult => ({
  content: [{ type: "text", text: message }],
  isError: true,
});

/** Visible tool names of `server`, in catalog order. */
function toolsOf(server: string, view: DiscoveryView): string[] {
  return [...view.visible.entries()].filter(([, t]) => t.server === server).map(([name]) => name);
}

/** A string-list argument, or the error that says what is wrong with it. */
function stringList(tool: string, field: string, value: unknown): string[] | CallToolResult {
  if (value === undefined || value === null) {
    return toolError(`${tool} needs "${field}": a list of strings.`);
  }
  if (!Array.isArray(value)) return toolError(`${tool}: "${field}" must be a list of strings.`);
  const bad = value.findIndex((v) => typeof v !== "string");
  if (bad >= 0) {
    return toolError(`${tool}: "${field}[${bad}]" must be a string, got ${JSON.stringify(value[bad])}.`);
  }
  return value as string[];
}

/**
 * Answers `discover_tools`. A `category` that is not a string is ignored, as the broker does (every
 * server is listed, no error).
 */
export function discoverTools(args: Record<string, unknown>, view: DiscoveryView): CallToolResult {
  const category = typeof args.category === "string" ? args.category : undefined;
  const servers = [];
  for (const s of view.servers) {
    const categories = s.category?.length ? s.category : [DEFAULT_CATEGORY];
    if (category && !categories.some((c) => c.toLowerCase() === category.toLowerCase())) continue;
    const tools = toolsOf(s.name, view);
    if (!tools.length) continue;
    servers.push({ name: s.name, categories, ...(s.hint ? { hint: s.hint } : {}), tools });
  }
  servers.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return text({ servers });
}

/** What `select_tools` decided: its answer, and the new scope when it changed one. */
export interface SelectOutcome {
  result: CallToolResult;
  /** The tools to scope the session to; empty ends the scope; undefined leaves it as it was. */
  scope?: string[];
}

/** Answers `select_tools`; the caller applies `scope` and announces the change. */
export function selectTools(
  args: Record<string, unknown>,
  view: DiscoveryView,
  meta: ReadonlySet<string>,
): SelectOutcome {
  const names = stringList(SELECT_TOOLS, "tools", args.tools);
  if (!Array.isArray(names)) return { result: names };
  if (names.length > MAX_SELECT_TOOLS) {
    return {
      result: toolError(
        `${SELECT_TOOLS} takes at most ${MAX_SELECT_TOOLS} tools; ${names.length} were given.`,
      ),
    };
  }
  if (!names.length) return { result: text({ status: "scope reset to all tools" }), scope: [] };
  const notMeta = names.filter((n) => meta.has(n));
  if (notMeta.length) {
    return {
      result: toolError(
        `${SELECT_TOOLS}: ${notMeta.join(", ")} cannot be selected; the gateway's own tools stay listed.`,
      ),
    };
  }
  const unknown = names.filter((n) => !view.visible.has(n));
  if (unknown.length) {
    return {
      result: toolError(
        `${SELECT_TOOLS}: ${unknown.join(", ")} ${unknown.length === 1 ? "is" : "are"} not available ` +
          "to this session; nothing was changed. discover_tools lists the tools it can select.",
      ),
    };
  }
  return { result: text({ status: `scope set to ${names.length} tools`, tools: names }), scope: names };
}

/** Answers `list_tags`: the sorted tags of servers with at least one visible tool. */
export function listTags(view: DiscoveryView): CallToolResult {
  const tags = new Set<string>();
  for (const s of view.servers) {
    if (!s.tags?.length || !toolsOf(s.name, view).length) continue;
    for (const tag of s.tags) tags.add(tag);
  }
  return text([...tags].sort());
}

/** Answers `filter_tools_by_tags`: the visible tools of servers that carry every tag asked for. */
export function filterToolsByTags(args: Record<string, unknown>, view: DiscoveryView): CallToolResult {
  const tags = stringList(FILTER_TOOLS_BY_TAGS, "tags", args.tags);
  if (!Array.isArray(tags)) return tags;
  if (!tags.length) return toolError(`${FILTER_TOOLS_BY_TAGS}: "tags" must not be empty.`);
  if (tags.some((t) => t === "")) {
    return toolError(`${FILTER_TOOLS_BY_TAGS}: "tags" must not contain empty strings.`);
  }
  const tools: Tool[] = [];
  for (const s of view.servers) {
    if (!tags.every((t) => s.tags?.includes(t))) continue;
    for (const name of toolsOf(s.name, view)) tools.push(view.visible.get(name)!.tool);
  }
  return text(tools);
}
