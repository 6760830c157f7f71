/**
 * Where `tools` and `call` reach the federated tools: a running gateway given by URL, or a replay
 * started in-process from the cluster or files (the same replay `simulate` runs, on a free port).
 *
 * @module
 */

import type { Flags } from "./command.ts";
import type { Io } from "./io.ts";
import { replayOptionsFromFlags } from "./simulate.ts";
import { startReplay } from "../replay/mod.ts";
import type { GatewayStatus } from "../../sim/mod.ts";

/** A gateway to talk to, and what is known about its servers. */
export interface ToolSource {
  /** The MCP endpoint. */
  url: string;
  /** The gateway's `/status`, when it serves one (the simulator does; the cluster's broker may not). */
  status(): Promise<GatewayStatus | undefined>;
  /** Registrations the gateway does not serve (disabled, unresolved), from a replay. */
  absent(): Promise<{ name: string; prefix: string; state: string; reason?: string }[]>;
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
  const url = flags.string("gateway");
  if (url) {
    return {
      url,
      status: () => fetchStatus(url, io.signal),
      absent: () => Promise.resolve([]),
      close: () => Promise.resolve(),
    };
  }
  const replay = await startReplay({
    ...await replayOptionsFromFlags(flags, io),
    port: 0,
    // Only `tools --watch` outlives one answer; the others need no watches on the cluster.
    follow: flags.boolean("watch"),
  });
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
    close: () => replay.close(),
  };
}

/** The simulator's `/status` beside an MCP endpoint; undefined for gateways without one. */
async function fetchStatus(mcpUrl: string, signal: AbortSignal): Promise<GatewayStatus | undefined> {
  try {
    const response = await fetch(new URL("/status", mcpUrl), {
      signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
    });
    if (!response.ok || !response.headers.get("content-type")?.includes("json")) {
      await response.body?.cancel();
      return undefined;
    }
    const status = await response.json();
    return Array.isArray(status?.servers) ? status as GatewayStatus : undefined;
  } catch {
    return undefined;
  }
}
