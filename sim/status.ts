/**
 * The `/status` document: every configured server with its state, tools, conflicts and invalid
 * tools, and the gateway's totals.
 *
 * @module
 */
import type { Catalog } from "./federation.ts";
import type { ServerSet } from "./server_set.ts";
import type { UpstreamState } from "./upstream.ts";

/** One server as `/status` reports it. */
export interface ServerStatus {
  name: string;
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
  invalidTools: Array<{ name: string; errors: string[] }>;
}

/** The `/status` document. */
export interface GatewayStatus {
  servers: ServerStatus[];
  totalServers: number;
  healthyServers: number;
  toolCount: number;
  promptCount: number;
  conflicts: Catalog["conflicts"];
  /** Tools the gateway serves itself (discovery and tags meta-tools), when any. */
  metaTools: string[];
  /** Progressive discovery settings: meta-tools on or off, and the tool count above which only they are listed (0: never). */
  discovery: { enabled: boolean; threshold: number };
  /** Sessions in this process with a `select_tools` scope (upstream's `scopedSessions`). */
  scopedSessions: number;
  sessions: number;
  timestamp: string;
}

/** What `/status` reports besides the servers. */
export interface StatusCounts {
  /** Sessions with a `select_tools` scope in this process. */
  scopedSessions: number;
  /** Live sessions in the store. */
  sessions: number;
}

/** The status of one configured server. */
function serverStatus(set: ServerSet, name: string): ServerStatus | undefined {
  const s = set.config.servers.find((c) => c.name === name);
  if (!s) return undefined;
  const cat = set.catalog;
  const up = set.upstream(s.name);
  const rejected = cat.rejectedServers.includes(s.name);
  const tools = [...cat.tools.entries()].filter(([, t]) => t.server === s.name).map(([n]) => n);
  return {
    name: s.name,
    prefix: s.prefix,
    url: s.url,
    enabled: s.enabled,
    state: rejected ? "rejected" : up?.state ?? "disabled",
    ...(up?.protocolVersion ? { protocolVersion: up.protocolVersion } : {}),
    toolCount: tools.length,
    tools,
    promptCount: [...cat.prompts.values()].filter((p) => p.server === s.name).length,
    resourceCount: up?.state === "ready" ? up.listing?.resources.length ?? 0 : 0,
    failedPings: up?.failures ?? 0,
    ...(up?.lastError ? { lastError: up.lastError } : {}),
    conflicts: cat.conflicts.filter((c) => c.conflictsWith === s.name || c.server === s.name).map((c) => ({
      kind: c.kind,
      name: c.name,
      conflictsWith: c.conflictsWith === s.name ? c.server : c.conflictsWith,
    })),
    invalidTools: cat.invalidTools.filter((t) => t.server === s.name).map(({ name, errors }) => ({
      name,
      errors,
    })),
  };
}

/** The `/status` document of `set`. */
export function gatewayStatus(set: ServerSet, counts: StatusCounts): GatewayStatus {
  const cat = set.catalog;
  const servers = set.config.servers.map((s) => serverStatus(set, s.name)!);
  return {
    servers,
    totalServers: servers.length,
    healthyServers: servers.filter((s) => s.state === "ready").length,
    toolCount: cat.tools.size,
    promptCount: cat.prompts.size,
    conflicts: cat.conflicts,
    metaTools: [...set.metaNames],
    discovery: {
      enabled: set.config.extension.discoveryTools,
      threshold: set.config.extension.discoveryToolThreshold,
    },
    scopedSessions: counts.scopedSessions,
    sessions: counts.sessions,
    timestamp: new Date().toISOString(),
  };
}
