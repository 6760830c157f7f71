/**
 * Broker flags the cluster's gateway runs with. Some of the broker's behaviour is not in any CRD but
 * in command-line flags on its Deployment (the controller creates `mcp-gateway` beside each
 * MCPGatewayExtension and keeps flags users add): progressive discovery and the invalid-tool policy
 * among them. The replay reads them so the simulator behaves like that gateway.
 *
 * @module
 */

import { isKind, type ReplayObject } from "./state.ts";

/** The broker Deployment's name, in the MCPGatewayExtension's namespace (upstream's controller). */
export const BROKER_DEPLOYMENT = "mcp-gateway";

/** Gateway settings the broker's flags and the command line may set. */
export interface ReplayGatewaySettings {
  /** Reject calls outside the selected virtual server. */
  enforceVirtualServers?: boolean;
  /** What to do with tools whose input schema is invalid. */
  invalidToolPolicy?: "FilterOut" | "RejectServer";
  /** Health ping interval in milliseconds, overriding the extension's seconds (tests). */
  backendPingIntervalMs?: number;
  /** Origins accepted besides localhost. */
  allowedOrigins?: string[];
  /** Serve the progressive-discovery meta-tools (default true, as the broker). */
  discoveryTools?: boolean;
  /** Tool count above which a new session lists only the meta-tools (0: never). */
  discoveryToolThreshold?: number;
  /** Lists nothing without a wristband (`--enforce-capability-filtering`, default false). */
  enforceCapabilityFilter?: boolean;
}

/** What the replay took from a broker Deployment. */
export interface BrokerFlags {
  /** `namespace/name` of the Deployment. */
  deployment: string;
  /** Settings from its flags. */
  settings: ReplayGatewaySettings;
  /** The flags as written there, for the start-up output. */
  flags: string[];
  /** Flags whose value the broker would refuse (they are not applied), said plainly. */
  problems: string[];
}

type Container = { command?: unknown; args?: unknown };

/** Go's `flag` package: `-name`, `--name`, `=value` or the next argument, bare booleans. */
function parseGoFlags(
  argv: readonly string[],
  booleans: ReadonlySet<string>,
): Map<string, { raw: string; value: string }> {
  const found = new Map<string, { raw: string; value: string }>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([A-Za-z0-9][A-Za-z0-9-]*)(?:=(.*))?$/s.exec(argv[i]);
    if (!m) continue;
    const [, name, inline] = m;
    if (inline !== undefined) found.set(name, { raw: argv[i], value: inline });
    else if (booleans.has(name)) found.set(name, { raw: argv[i], value: "true" });
    else if (i + 1 < argv.length) {
      found.set(name, { raw: `${argv[i]} ${argv[i + 1]}`, value: argv[i + 1] });
      i++;
    }
  }
  return found;
}

/** Go's `strconv.ParseBool`. */
function goBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

/**
 * The broker flags of the Deployment beside `extension` among `objects`, or undefined when there is
 * no such Deployment (no cluster, a gateway deployed another way, or no right to read it).
 */
export function brokerFlags(
  objects: readonly ReplayObject[],
  extension: ReplayObject | undefined,
): BrokerFlags | undefined {
  if (!extension) return undefined;
  const namespace = extension.metadata?.namespace ?? "default";
  const deployment = objects.find((o) =>
    isKind(o, "apps", "Deployment") && o.metadata?.name === BROKER_DEPLOYMENT &&
    (o.metadata?.namespace ?? "default") === namespace
  );
  if (!deployment) return undefined;
  const template = (deployment.spec?.template as { spec?: { containers?: Container[] } } | undefined)?.spec;
  const container = template?.containers?.[0];
  const strings = (v: unknown) => Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
  const argv = [...strings(container?.command), ...strings(container?.args)];
  const parsed = parseGoFlags(argv, new Set(["discovery-tools-enabled", "enforce-capability-filtering"]));
  const result: BrokerFlags = {
    deployment: `${namespace}/${BROKER_DEPLOYMENT}`,
    settings: {},
    flags: [],
    problems: [],
  };
  const enabled = parsed.get("discovery-tools-enabled");
  if (enabled) {
    const value = goBool(enabled.value);
    if (value === undefined) result.problems.push(`${enabled.raw}: not a boolean`);
    else {
      result.settings.discoveryTools = value;
      result.flags.push(enabled.raw);
    }
  }
  const enforce = parsed.get("enforce-capability-filtering");
  if (enforce) {
    const value = goBool(enforce.value);
    if (value === undefined) result.problems.push(`${enforce.raw}: not a boolean`);
    else {
      result.settings.enforceCapabilityFilter = value;
      result.flags.push(enforce.raw);
    }
  }
  const threshold = parsed.get("discovery-tool-threshold");
  if (threshold) {
    if (!/^-?\d+$/.test(threshold.value)) result.problems.push(`${threshold.raw}: not a whole number`);
    else {
      // The broker hides nothing for 0 or less.
      result.settings.discoveryToolThreshold = Math.max(0, Number(threshold.value));
      result.flags.push(threshold.raw);
    }
  }
  const policy = parsed.get("invalid-tool-policy");
  if (policy) {
    if (policy.value !== "FilterOut" && policy.value !== "RejectServer") {
      result.problems.push(`${policy.raw}: must be FilterOut or RejectServer`);
    } else {
      result.settings.invalidToolPolicy = policy.value;
      result.flags.push(policy.raw);
    }
  }
  return result;
}
