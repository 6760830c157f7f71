/**
 * The `/status` document, shaped as the cluster's broker (v0.9.0) shapes it: its fields first, in its
 * order, then the simulator's own (state, tools, conflicts and so on) after them. `/status/<ns>/<name>`
 * serves one server's object, and an unknown name gets the broker's 404.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";
import type { RateLimitStatus } from "./ratelimit/types.ts";
import type { Catalog } from "./federation.ts";
import type { ServerSet } from "./server_set.ts";
import type { UpstreamState } from "./upstream.ts";

/** The protocol check of one server, as the broker reports it. */
export interface ProtocolValidation {
  /** True once a version was negotiated with the server. */
  isValid: boolean;
  /** The version the server answered `initialize` with ("" before that). */
  supportedVersion: string;
  /** The version the gateway offered ("" before the server was first added). */
  expectedVersion: string;
}

/** One server as `/status` reports it. */
export interface ServerStatus {
  // The broker's fields, in the broker's order (upstream/manager.go ServerValidationStatus).
  /** The broker's id of the server, `name:prefix:hostname` (the hostname of the URL here). */
  id: string;
  name: string;
  /** When the last health round finished (RFC 3339). */
  lastValidated: string;
  /** The broker's sentence: `server added successfully. ...`, or why the server is not ready. */
  message: string;
  /** Whether the last round added the server's tools: false while disabled, failing, conflicting or rejected. */
  ready: boolean;
  totalTools: number;
  totalPrompts: number;
  /** How many of its tools have invalid input schemas. */
  invalidTools: number;
  /** Those tools with their errors; absent when there are none. */
  invalidToolList?: Array<{ name: string; errors: string[] }>;
  invalidPrompts: number;
  protocolValidation: ProtocolValidation;
  // The simulator's own fields.
  prefix: string;
  url: string;
  enabled: boolean;
  state: UpstreamState | "rejected";
  protocolVersion?: string;
  toolCount: number;
  /** The federated (prefixed) names of the tools this server contributes. */
  tools: string[];
  promptCount: number;
  resourceCount: number;
  failedPings: number;
  lastError?: string;
  conflicts: Array<{ kind: "tool" | "prompt"; name: string; conflictsWith: string }>;
}

/** The `/status` document. */
export interface GatewayStatus {
  // The broker's fields, in the broker's order (broker/status.go StatusResponse).
  servers: ServerStatus[];
  /** True when every server is ready. */
  overallValid: boolean;
  totalServers: number;
  /** Servers whose `ready` is true. */
  healthyServers: number;
  unHealthyServers: number;
  /**
   * Always 0, as broker v0.9.0 reports it: it never counts them. The conflicts are in `conflicts`,
   * and each losing server is `ready: false` with the conflicting names in its `message`.
   */
  toolConflicts: number;
  timestamp: string;
  /** Sessions in this process with a `select_tools` scope. */
  scopedSessions: number;
  // The simulator's own fields.
  toolCount: number;
  promptCount: number;
  conflicts: Catalog["conflicts"];
  /** Tools the gateway serves itself (discovery and tags meta-tools), when any. */
  metaTools: string[];
  /** Progressive discovery settings: meta-tools on or off, and the tool count above which only they are listed (0: never). */
  discovery: { enabled: boolean; threshold: number };
  /** Whether the simulator serves what the cluster's broker does not (`--federate-all`). */
  federateAll: boolean;
  /** Live sessions in the store. */
  sessions: number;
  /** The RateLimitPolicies' limits and counters, when the gateway has a rate-limit gate. */
  rateLimits?: RateLimitStatus;
}

/** What `/status` reports besides the servers. */
export interface StatusContext {
  /** Sessions with a `select_tools` scope in this process. */
  scopedSessions: number;
  /** Live sessions in the store. */
  sessions: number;
  /** `GatewayOptions.federateAll`. */
  federateAll: boolean;
  /** The RateLimitPolicies' limits and counters, when the gateway has a rate-limit gate. */
  rateLimits?: RateLimitStatus;
}

/** Go's zero time, which the broker reports for a server it has not validated yet. */
const NEVER = "0001-01-01T00:00:00Z";

/** Names as Go's `%v` prints a string slice. */
function goList(names: string[]): string {
  return `[${names.join(" ")}]`;
}

/** The status of one configured server. */
function serverStatus(set: ServerSet, name: string, now: string): ServerStatus | undefined {
  const s = set.config.servers.find((c) => c.name === name);
  if (!s) return undefined;
  const cat = set.catalog;
  const up = set.upstream(s.name);
  const rejected = cat.rejectedServers.includes(s.name);
  const tools = [...cat.tools.entries()].filter(([, t]) => t.server === s.name).map(([n]) => n);
  const promptCount = [...cat.prompts.values()].filter((p) => p.server === s.name).length;
  const invalid = cat.invalidTools.filter((t) => t.server === s.name).map(({ name, errors }) => ({
    name,
    errors,
  }));
  const lost = (kind: "tool" | "prompt") =>
    cat.conflicts.filter((c) => c.kind === kind && c.conflictsWith === s.name).map((c) => c.name);
  const lostTools = lost("tool");
  const lostPrompts = lost("prompt");

  let host = "";
  try {
    host = new URL(s.url).hostname;
  } catch {
    // An unparsable URL never connects; the id still names the server.
  }
  const id = `${s.name}:${s.prefix}:${host}`;
  const refused = rejected || lostTools.length > 0 || lostPrompts.length > 0;
  let message = "";
  if (!s.enabled) {
    message = "server is disabled";
  } else if (up?.lastError) {
    message = `failed to connect to upstream mcp ${id} : ${up.lastError}`;
  } else if (up?.state !== "ready") {
    // Not yet validated: the broker's status is still its zero value.
  } else if (s.userSpecificList) {
    message = "userSpecificList server healthy, tools fetched per-user";
  } else if (refused) {
    // As the broker joins a tool error and a prompt error (errors.Join): one per line.
    const errors: string[] = [];
    if (rejected) errors.push(`upstream mcp ${id} rejected: ${invalid.length} invalid tools found`);
    else if (lostTools.length) {
      errors.push(
        `upstream mcp failed to add tools to gateway ${id} : conflicting tools discovered. ` +
          `conflicting tool names ${goList(lostTools)}`,
      );
    }
    if (lostPrompts.length) {
      errors.push(
        `upstream mcp failed to add prompts to gateway ${id} : conflicting prompts discovered. ` +
          `conflicting prompt names ${goList(lostPrompts)}`,
      );
    }
    message = errors.join("\n");
  }
  const ready = s.enabled && up?.state === "ready" && !up.lastError && !refused;
  // The broker counts tools and prompts only when it adds a server; one it refused shows 0 and 0.
  const counted = !refused;
  const validated = s.enabled && !refused && up?.protocolVersion !== undefined;
  return {
    id,
    name: s.name,
    lastValidated: up?.validatedAt?.toISOString() ?? (s.enabled ? NEVER : now),
    message: message || (ready ? addedMessage(tools.length, promptCount) : ""),
    ready,
    totalTools: counted ? tools.length : 0,
    totalPrompts: counted ? promptCount : 0,
    invalidTools: invalid.length,
    ...(invalid.length ? { invalidToolList: invalid } : {}),
    invalidPrompts: 0,
    protocolValidation: validated
      ? { isValid: true, supportedVersion: up!.protocolVersion!, expectedVersion: LATEST_PROTOCOL_VERSION }
      : { isValid: false, supportedVersion: "", expectedVersion: "" },
    prefix: s.prefix,
    url: s.url,
    enabled: s.enabled,
    state: rejected ? "rejected" : up?.state ?? "disabled",
    ...(up?.protocolVersion ? { protocolVersion: up.protocolVersion } : {}),
    toolCount: tools.length,
    tools,
    promptCount,
    resourceCount: up?.state === "ready" ? up.listing?.resources.length ?? 0 : 0,
    failedPings: up?.failures ?? 0,
    ...(up?.lastError ? { lastError: up.lastError } : {}),
    conflicts: cat.conflicts.filter((c) => c.conflictsWith === s.name || c.server === s.name).map((c) => ({
      kind: c.kind,
      name: c.name,
      conflictsWith: c.conflictsWith === s.name ? c.server : c.conflictsWith,
    })),
  };
}

function addedMessage(tools: number, prompts: number): string {
  return `server added successfully. Total tools added ${tools}. Total prompts added ${prompts}`;
}

/** The `/status` document of `set`. */
export function gatewayStatus(set: ServerSet, context: StatusContext): GatewayStatus {
  const cat = set.catalog;
  const timestamp = new Date().toISOString();
  const servers = set.config.servers.map((s) => serverStatus(set, s.name, timestamp)!);
  const healthy = servers.filter((s) => s.ready).length;
  return {
    servers,
    overallValid: healthy === servers.length,
    totalServers: servers.length,
    healthyServers: healthy,
    unHealthyServers: servers.length - healthy,
    toolConflicts: 0,
    timestamp,
    scopedSessions: context.scopedSessions,
    toolCount: cat.tools.size,
    promptCount: cat.prompts.size,
    conflicts: cat.conflicts,
    metaTools: [...set.metaNames],
    discovery: {
      enabled: set.config.extension.discoveryTools,
      threshold: set.config.extension.discoveryToolThreshold,
    },
    federateAll: context.federateAll,
    sessions: context.sessions,
    ...(context.rateLimits ? { rateLimits: context.rateLimits } : {}),
  };
}

/** The headers the broker sets on every `/status` answer (broker/status.go). */
const STATUS_HEADERS = {
  "content-type": "application/json",
  "access-control-allow-origin": "*",
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-allow-headers": "Content-Type",
};

/** A JSON answer framed as Go's `json.Encoder` frames it: one line. */
function statusJson(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body) + "\n", { status, headers: STATUS_HEADERS });
}

/**
 * Answers `/status`, `/status/` and `/status/<namespace>/<name>` as the broker does: the document, or
 * the one server whose name is exactly `<namespace>/<name>`, or its 404; methods other than GET get
 * its 405.
 */
export async function statusResponse(
  req: Request,
  document: () => Promise<GatewayStatus>,
): Promise<Response> {
  if (req.method !== "GET") return statusJson({ error: "Method not allowed. Supported methods: GET" }, 405);
  let path = new URL(req.url).pathname;
  try {
    path = decodeURIComponent(path);
  } catch {
    // Not percent-decodable: looked up as sent, and found by no name.
  }
  const rest = path.slice("/status".length);
  const name = rest === "" || rest === "/" ? "" : rest.slice(1);
  const status = await document();
  if (name === "") return statusJson(status);
  const server = status.servers.find((s) => s.name === name);
  if (server) return statusJson(server);
  return statusJson(
    {
      error:
        `Server '${name}' not found. Use format 'namespace/route-name' or check available servers at /status`,
    },
    404,
  );
}
