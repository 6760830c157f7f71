/**
 * Where `tools` and `call` reach the federated tools: a running gateway given by URL, or a replay
 * started in-process from the cluster or files (the same replay `simulate` runs, on a free port).
 *
 * @module
 */

import type { Flags } from "./command.ts";
import type { Io } from "./io.ts";
import { replayOptionsFromFlags } from "./simulate.ts";
import { formatReplayWarning, startReplay } from "../replay/mod.ts";
import type { GatewayStatus } from "../../sim/mod.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";
import { UsageError } from "../errors.ts";

/** A gateway to talk to, and what is known about its servers. */
export interface ToolSource {
  /** The MCP endpoint. */
  url: string;
  /** The gateway's `/status`, when it serves one (the simulator does; the cluster's broker may not). */
  status(): Promise<GatewayStatus | undefined>;
  /** Registrations the gateway does not serve (disabled, unresolved), from a replay. */
  absent(): Promise<{ name: string; prefix: string; state: string; reason?: string }[]>;
  /** `namespace/name` of every MCPVirtualServer, from a replay; undefined for a running gateway. */
  virtualServers(): string[] | undefined;
  /** Stops what was started. */
  close(): Promise<void>;
}

/** Flags that point `tools` and `call` at a running gateway instead of a replay. */
export const GATEWAY_FLAGS = [
  {
    name: "gateway",
    type: "string",
    description:
      "Talk to a running MCP gateway at this URL (e.g. http://127.0.0.1:8080/mcp) instead of a replay.",
  },
  { name: "token", type: "string", description: "Bearer token sent to the gateway given with --gateway." },
] as const;

/** Opens the tool source the flags select. */
export async function openToolSource(flags: Flags, io: Io): Promise<ToolSource> {
  checkToken(flags.string("token"));
  const url = flags.string("gateway");
  if (url) {
    return {
      url,
      status: () => fetchStatus(url, io.signal),
      absent: () => Promise.resolve([]),
      virtualServers: () => undefined,
      close: () => Promise.resolve(),
    };
  }
  const replay = await startReplay({
    ...await replayOptionsFromFlags(flags, io),
    port: 0,
    // Only `tools --watch` outlives one answer; the others need no watches on the cluster.
    follow: flags.boolean("watch"),
    onWarning: (warning) => io.err(formatReplayWarning(warning)),
  });
  for (const warning of replay.warnings) io.err(formatReplayWarning(warning));
  return {
    url: replay.url,
    status: () => replay.status(),
    absent: async () =>
      (await replay.rows()).filter((row) => row.state === "Disabled" || row.state === "Unresolved").map((
        row,
      ) => ({
        name: row.name,
        prefix: row.prefix,
        state: row.state,
        reason: row.reason,
      })),
    virtualServers: () => replay.gateway.gateway.config.virtualServers.map((server) => server.name),
    close: () => replay.close(),
  };
}

/**
 * Warns when `--virtual-server NAME` matches no MCPVirtualServer of the replayed objects: the
 * cluster's gateway answers such a header with the unfiltered list, every tool, and says nothing.
 * A running gateway (`--gateway`) does not say which exist, so nothing is checked there.
 */
export function warnUnknownVirtualServer(io: Io, source: ToolSource, name: string | undefined): void {
  const known = source.virtualServers();
  if (name === undefined || known === undefined || known.includes(name)) return;
  io.err(
    `warning: virtual server ${name} matches no MCPVirtualServer; the cluster's gateway answers a client ` +
      `sending X-Mcp-Virtualserver: ${name} with the unfiltered list (every tool)\n` +
      `  hint: ${
        known.length ? `the virtual servers are ${known.sort().join(", ")}` : "there are no virtual servers"
      }\n`,
  );
}

/**
 * A `--token` fetch would refuse as a header value is a usage error before anything starts, never
 * an error from fetch, which would quote it.
 */
function checkToken(token: string | undefined): void {
  const invalid = token === undefined ? undefined : invalidHeaderValue(`Bearer ${token}`);
  if (invalid) throw new UsageError(`invalid value for --token: ${invalid}`);
}

/**
 * The simulator's `/status` beside an MCP endpoint; undefined for gateways without one. The cluster's
 * broker serves `/status` too, in the same shape, but without the simulator's fields (each server's
 * prefix and tools, the meta-tools) that attribution and `--explain` read, so it counts as none.
 */
export async function fetchStatus(
  mcpUrl: string,
  signal: AbortSignal = new AbortController().signal,
): Promise<GatewayStatus | undefined> {
  try {
    const response = await fetch(new URL("/status", mcpUrl), {
      signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
    });
    if (!response.ok || !response.headers.get("content-type")?.includes("json")) {
      await response.body?.cancel();
      return undefined;
    }
    const status = await response.json();
    return Array.isArray(status?.servers) && Array.isArray(status.metaTools)
      ? status as GatewayStatus
      : undefined;
  } catch {
    return undefined;
  }
}
