/**
 * `kubectl mcp tools --explain NAME`: why a tool is listed for a client, or why it is not.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import type { GatewayStatus } from "../../sim/mod.ts";
import { attributionServers, GATEWAY_OWNER, serverOf } from "./mod.ts";
import { CONFLICT_RACE } from "../validate/broker_defects.ts";

/** What the cluster does with a tool name two servers serve, as a sentence (`validate` says it too). */
const CLUSTER_RACE = `${CONFLICT_RACE[0].toUpperCase()}${CONFLICT_RACE.slice(1)}.`;

/** Why a tool is or is not in a client's list. */
export interface Explanation {
  /** The tool name asked about. */
  name: string;
  /** Whether a client of the chosen virtual server sees it. */
  listed: boolean;
  /** `namespace/name` of the registration it belongs to, when known. */
  server?: string;
  /** Stable reason codes: listed, gateway-meta-tool, virtual-server-filter, discovery-threshold,
   * conflict (withheld, or listed after winning one here), invalid-schema, server-disabled,
   * server-unhealthy, server-unreachable, server-rejected, not-provided, no-server; with an
   * identity, auth-denied (its list or its call refused by an AuthPolicy, with the rule) and
   * wristband-filter (the wristband the policy issued leaves the tool out). */
  reasons: { code: string; message: string }[];
}

/** What the explanation is built from. */
export interface ExplainInput {
  /** The list a client of the virtual server sees. */
  listed: readonly Tool[];
  /** The list without a virtual server. */
  unfiltered: readonly Tool[];
  /** The gateway's `/status` document, when it has one (the simulator does). */
  status?: GatewayStatus;
  /** The virtual server asked about. */
  virtualServer?: string;
  /** Registrations the gateway does not serve at all (disabled or unreachable), from a replay. */
  absent?: readonly { name: string; prefix: string; state: string; reason?: string }[];
  /** What the AuthPolicies say about the identity asking (`--token`, `--user`, `--claims`). */
  auth?: ExplainAuth;
}

/** The AuthPolicies' answers for one identity (see `src/auth/can_i.ts`). */
export interface ExplainAuth {
  /** Why the identity's `tools/list` (or the session before it) is refused, naming the policy and rule. */
  listDenied?: string;
  /** Whether the wristband its `tools/list` got keeps the tool; undefined when unknown. */
  wristband?: "kept" | "dropped";
  /** Why calling the tool is refused, naming the policy and rule. */
  callDenied?: string;
}

/** Explains why `name` is or is not listed. */
export function explainTool(name: string, input: ExplainInput): Explanation {
  const servers = attributionServers(
    input.status,
    (input.absent ?? []).map((server) => ({ name: server.name, prefix: server.prefix })),
  );
  const owner = serverOf(name, servers) || undefined;
  const reasons: Explanation["reasons"] = [];
  const auth = input.auth;
  if (auth?.listDenied) {
    reasons.push({
      code: "auth-denied",
      message: `${name} is not listed: this identity's tools/list is refused (${auth.listDenied}).`,
    });
    return { name, listed: false, server: owner, reasons };
  }
  const callDenied = auth?.callDenied
    ? [{ code: "auth-denied", message: `calling ${name} is refused (${auth.callDenied}).` }]
    : [];
  if (owner === GATEWAY_OWNER && input.listed.some((tool) => tool.name === name)) {
    reasons.push({
      code: "gateway-meta-tool",
      message:
        `${name} is listed: the gateway serves it itself (progressive discovery or tags), it belongs to no server.`,
    });
    return { name, listed: true, server: owner, reasons };
  }
  if (input.listed.some((tool) => tool.name === name)) {
    const where = owner ? ` from ${owner}` : "";
    const via = input.virtualServer ? `, and virtual server ${input.virtualServer} includes it` : "";
    reasons.push({ code: "listed", message: `${name} is listed${where}${via}.` }, ...callDenied);
    // Won here, but in the cluster the other server may answer first and win.
    const wins = (input.status?.conflicts ?? []).filter((c) => c.kind === "tool" && c.server === owner);
    const won = wins.find((c) => c.name === name) ?? wins[0];
    if (won) {
      reasons.push({
        code: "conflict",
        message: `${owner} won a tool conflict with ${won.conflictsWith} (${won.name}) here. ${CLUSTER_RACE}`,
      });
    }
    return { name, listed: true, server: owner, reasons };
  }
  if (auth?.wristband === "dropped") {
    reasons.push({
      code: "wristband-filter",
      message: `the wristband the AuthPolicy issued this identity (x-mcp-authorized) leaves ${name} out: ` +
        `its allowed-capabilities do not name it${owner ? ` among ${owner}'s tools` : ""}.`,
    }, ...callDenied);
    return { name, listed: false, server: owner, reasons };
  }
  if (input.virtualServer && input.unfiltered.some((tool) => tool.name === name)) {
    reasons.push({
      code: "virtual-server-filter",
      message:
        `virtual server ${input.virtualServer} does not include ${name}; without a virtual server it is listed.`,
    }, ...callDenied);
    return { name, listed: false, server: owner, reasons };
  }
  const status = input.status;
  const meta = new Set(status?.metaTools ?? []);
  const threshold = status?.discovery?.threshold ?? 0;
  const federated = status?.servers.some((server) => server.tools.includes(name)) ?? false;
  if (federated && threshold > 0 && input.listed.every((tool) => meta.has(tool.name))) {
    reasons.push({
      code: "discovery-threshold",
      message: `${name} is served, but this client would see more than ${threshold} tools (the discovery ` +
        `threshold), so a new session lists only ${[...meta].join(", ")}; select_tools brings ${name} back.`,
    });
    return { name, listed: false, server: owner, reasons };
  }
  if (status) {
    // The gateway withholds every tool of a server that clashes with an earlier one, not only the
    // clashing names, so a tool can be withheld without its own name being in conflict.
    for (const conflict of status.conflicts ?? []) {
      if (conflict.kind !== "tool" || conflict.conflictsWith !== owner) continue;
      reasons.push({
        code: "conflict",
        message:
          `${owner}'s tools are withheld: its tool ${conflict.name} conflicts with ${conflict.server}, ` +
          `which won here. ${CLUSTER_RACE}`,
      });
    }
    for (const server of status.servers) {
      for (const invalid of server.invalidToolList ?? []) {
        if (invalid.name === name || `${server.prefix}${invalid.name}` === name) {
          reasons.push({
            code: "invalid-schema",
            message: `${name} from ${server.name} has an invalid input schema (${
              invalid.errors.join("; ")
            }).`,
          });
        }
      }
    }
    const server = status.servers.find((candidate) => candidate.name === owner);
    if (server && reasons.length === 0) {
      if (!server.enabled) {
        reasons.push({
          code: "server-disabled",
          message: `${server.name} is Disabled, so none of its tools are listed.`,
        });
      } else if (server.state === "rejected") {
        reasons.push({
          code: "server-rejected",
          message: `${server.name} was rejected (invalid tool schema with policy RejectServer)${
            server.lastError ? `: ${server.lastError}` : ""
          }.`,
        });
      } else if (server.state !== "ready") {
        reasons.push({
          code: "server-unhealthy",
          message: `${server.name} is ${server.state}${server.lastError ? `: ${server.lastError}` : ""}.`,
        });
      } else {
        reasons.push({
          code: "not-provided",
          message: `${server.name} (prefix "${server.prefix}") is healthy but has no tool ${
            name.slice(server.prefix.length)
          }.`,
        });
      }
    }
  }
  const absent = input.absent?.find((server) => server.name === owner);
  if (absent && reasons.length === 0) {
    const disabled = absent.state === "Disabled";
    reasons.push({
      code: disabled ? "server-disabled" : "server-unreachable",
      message: disabled
        ? `${absent.name} is Disabled, so none of its tools are listed.`
        : `${absent.name} could not be reached: ${absent.reason ?? "unknown reason"}.`,
    });
  }
  if (reasons.length === 0) {
    reasons.push({
      code: "no-server",
      message: `no registered server provides ${name} (no prefix matches it).`,
    });
  }
  return { name, listed: false, server: owner, reasons };
}
