/**
 * Where `tools` and `call` reach the federated tools: a running gateway given by URL, or a replay
 * started in-process from the cluster or files (the same replay `simulate` runs, on a free port).
 *
 * @module
 */

import type { Flags, FlagSpec } from "./command.ts";
import { AUTH_POLICY_FLAGS } from "./flags.ts";
import type { Io } from "./io.ts";
import { REPLAY_FLAGS, replayOptionsFromFlags } from "./simulate.ts";
import {
  type AuthReplayOptions,
  formatReplayWarning,
  parseIssuerOverrides,
  type Replay,
  startReplay,
} from "../replay/mod.ts";
import type { GatewayStatus } from "../../sim/mod.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";
import { UsageError } from "../errors.ts";
import { ANONYMOUS, claimsIdentity, type ClientIdentity } from "../auth/identity.ts";
import { DEFAULT_GATEWAY_URL, fetchDevToken, locateDevIdp } from "../idp/client.ts";

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
  /** Who the client is (`--token`, `--user`, `--claims`; anonymous without them). */
  identity: ClientIdentity;
  /** The replay, when the source is one (its gate answers `auth can-i`). */
  replay?: Replay;
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
  {
    name: "token",
    type: "string",
    description: "Act as the holder of this bearer token: sent to the gateway, and evaluated by the " +
      "replayed AuthPolicies.",
  },
] as const;

/** `--user` (the dev identity provider's) and where that provider runs. */
export const USER_FLAGS = [
  {
    name: "user",
    type: "string",
    description: "Act as this user of the dev identity provider of a running `kubectl mcp simulate " +
      "--dev-idp` (see --dev-idp): its token is presented, and the replayed AuthPolicies accept that " +
      "provider's tokens. The kubeconfig user is --kubeconfig-user here.",
  },
  {
    name: "dev-idp",
    type: "string",
    description: "The running `kubectl mcp simulate --dev-idp` (its MCP URL) that --user gets tokens " +
      `from; default --gateway when given, else ${DEFAULT_GATEWAY_URL}.`,
  },
] as const satisfies readonly FlagSpec[];

/** `--claims`: a what-if identity. */
export const CLAIMS_FLAG = {
  name: "claims",
  type: "string",
  complete: "file",
  description: "What-if: act as an identity with these claims (a YAML or JSON file), which every jwt " +
    "rule of the replayed AuthPolicies takes as verified; the rest of each policy is evaluated for real.",
} as const satisfies FlagSpec;

/**
 * The replay flags of a verb that acts as an identity: the kubeconfig's `--user` is
 * `--kubeconfig-user` there, as `--user` names the identity (see {@linkcode openToolSource}).
 */
export const IDENTITY_REPLAY_FLAGS: readonly FlagSpec[] = [
  ...REPLAY_FLAGS.filter((flag) => flag.name !== "user"),
  {
    name: "kubeconfig-user",
    type: "string",
    description: "The name of the kubeconfig user to use (--user names the identity the verb acts as).",
    complete: "user",
  },
  ...AUTH_POLICY_FLAGS,
];

/** Options of {@linkcode openToolSource}. */
export interface OpenToolSourceOptions {
  /**
   * Apply the replayed AuthPolicies even for an anonymous client (`auth can-i`); without it they
   * apply when the verb acts as an identity (`--token`, `--user`, `--claims`).
   */
  auth?: boolean;
  /**
   * The verb asks about tools only (`tools`, `call`): a one-shot replay then lists no prompts or
   * resources of its backends, each of which would be one more round trip through a port-forward.
   */
  toolsOnly?: boolean;
}

/** Opens the tool source the flags select. */
export async function openToolSource(
  flags: Flags,
  io: Io,
  options: OpenToolSourceOptions = {},
): Promise<ToolSource> {
  checkToken(flags.string("token"));
  const url = flags.string("gateway");
  const identity = await identityFromFlags(flags, io);
  if (url) {
    if (identity.identity.claims) {
      throw new UsageError(
        "--claims needs a replay (the cluster's, or -f FILES): a running gateway " +
          "verifies real tokens only",
        { hint: "Use --token or --user with --gateway." },
      );
    }
    return {
      url,
      identity: identity.identity,
      status: () => fetchStatus(url, io.signal, identity.identity.token),
      absent: () => Promise.resolve([]),
      virtualServers: () => undefined,
      close: () => Promise.resolve(),
    };
  }
  const acting = identity.identity !== ANONYMOUS;
  const replay = await startReplay({
    ...await replayOptionsFromFlags(kubeconfigUserFlags(flags), io),
    port: 0,
    // Only `tools --watch` outlives one answer; the others need no watches on the cluster.
    follow: flags.boolean("watch"),
    // A watch serves the listing again when a backend's prompts change; a one-shot answer never does.
    toolsOnly: options.toolsOnly && !flags.boolean("watch"),
    onWarning: (warning) => io.err(formatReplayWarning(warning)),
    ...(options.auth || acting ? { auth: authOptionsFromFlags(flags, identity) } : {}),
  });
  for (const warning of replay.warnings) io.err(formatReplayWarning(warning));
  return {
    url: replay.url,
    identity: identity.identity,
    replay,
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

/** The identity the flags name, and the dev identity provider's issuer when it is a `--user`'s. */
async function identityFromFlags(
  flags: Flags,
  io: Io,
): Promise<{ identity: ClientIdentity; devIdpIssuer?: string }> {
  const token = flags.string("token");
  const user = flags.string("user");
  const claims = flags.string("claims");
  const given = [
    token !== undefined && "--token",
    user !== undefined && "--user",
    claims !== undefined && "--claims",
  ].filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(" and ")} name two identities: give one`);
  if (token !== undefined) return { identity: { token, label: "token" } };
  if (claims !== undefined) return { identity: await claimsIdentity(claims) };
  if (user === undefined) return { identity: ANONYMOUS };
  const idp = flags.string("dev-idp") ?? flags.string("gateway") ?? DEFAULT_GATEWAY_URL;
  const [where, issued] = await Promise.all([
    locateDevIdp(idp, { signal: io.signal }),
    fetchDevToken({ gateway: idp, user, signal: io.signal }),
  ]);
  return { identity: { token: issued.token, label: `user ${user}` }, devIdpIssuer: where.issuer };
}

/**
 * How the replay applies its AuthPolicies: `--unsupported-rules`, `--issuer-override`, `--opa`; a
 * `--user`'s provider stands in for every issuer the policies name (its tokens are accepted as the
 * issuer's, as `simulate --dev-idp` does), and `--claims` are taken as verified.
 */
function authOptionsFromFlags(
  flags: Flags,
  identity: { identity: ClientIdentity; devIdpIssuer?: string },
): AuthReplayOptions {
  const opaPath = flags.string("opa");
  return {
    unsupportedRules: flags.string("unsupported-rules") === "allow" ? "allow" : "deny",
    issuerOverrides: parseIssuerOverrides(flags.strings("issuer-override")),
    ...(opaPath ? { opaPath } : {}),
    ...(identity.devIdpIssuer ? { devIdp: { issuer: identity.devIdpIssuer } } : {}),
    ...(identity.identity.claims ? { whatIfClaims: identity.identity.claims } : {}),
  };
}

/** The flags as the kubeconfig reads them: its user is `--kubeconfig-user` where `--user` is an identity. */
function kubeconfigUserFlags(flags: Flags): Flags {
  return {
    string: (name) => flags.string(name === "user" ? "kubeconfig-user" : name),
    boolean: (name) => flags.boolean(name),
    strings: (name) => flags.strings(name),
    given: (name) => flags.given(name === "user" ? "kubeconfig-user" : name),
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
  token?: string,
): Promise<GatewayStatus | undefined> {
  try {
    // The gateway's policy guards /status too (its route's status rule): ask as the identity.
    const response = await fetch(new URL("/status", mcpUrl), {
      signal: AbortSignal.any([signal, AbortSignal.timeout(5000)]),
      ...(token !== undefined ? { headers: { authorization: `Bearer ${token}` } } : {}),
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
