/**
 * `kubectl mcp simulate`: a local MCP gateway that replays registrations, virtual servers and the
 * gateway extension from files or a cluster, against the real MCP servers, and follows changes.
 *
 * @module
 */

import type { Command, Flags } from "./command.ts";
import { ALL_NAMESPACES_FLAG, AUTH_POLICY_FLAGS, FILENAME_FLAGS, KUBE_FLAGS } from "./flags.ts";
import { type Io, waitForAbort } from "./io.ts";
import { UsageError, ValidationFailedError } from "../errors.ts";
import {
  fileSource,
  formatAuthSummary,
  formatRateLimitSummary,
  formatReplayWarning,
  formatServerSummary,
  parseIssuerOverrides,
  parseUpstreams,
  type Replay,
  type ReplayOptions,
  startReplay,
  staticResolver,
} from "../replay/mod.ts";
import type { ManifestDocument } from "../manifest/mod.ts";
import { DEFAULT_MAX_SESSIONS } from "../../sim/options.ts";
import { defaultUsers, describeUser, readUsersFile } from "../idp/users.ts";
// A type only: the provider (node:http, jose, oidc-provider) loads when --dev-idp asks for it.
import type { DevIdp } from "../idp/provider.ts";
// A type only: the cluster replay itself is imported when a verb needs the cluster.
import type { ClusterReplayFactory } from "../kube/replay.ts";

/** Flags shared by `simulate`, `tools` and `call`: where the replay's objects and servers come from. */
export const REPLAY_FLAGS = [
  ...FILENAME_FLAGS,
  {
    name: "overlay",
    type: "boolean",
    description: "With -f, lay the files over the cluster's objects instead of reading the files alone.",
  },
  {
    name: "upstream",
    type: "string",
    multiple: true,
    description: "Reach a registration at this URL instead, as NAME=URL (NAME is a name or namespace/name).",
  },
  {
    name: "gateway-extension",
    type: "string",
    description: "The MCPGatewayExtension to follow, as NAMESPACE/NAME, when there are several.",
    complete: "gateway-extension",
  },
  {
    name: "enforce-virtual-servers",
    type: "boolean",
    description:
      "Reject calls to tools outside the selected virtual server (the gateway only filters lists).",
  },
  {
    name: "invalid-tool-policy",
    type: "string",
    values: ["FilterOut", "RejectServer"],
    default: "FilterOut",
    description: "Tools with invalid input schemas: drop the tool (FilterOut) or the whole server " +
      "(RejectServer). Unset, the cluster gateway's broker flag of that name applies, else FilterOut.",
  },
  {
    name: "discovery-tools",
    type: "boolean",
    default: true,
    description: "Serve the discover_tools and select_tools meta-tools, as the broker does by default " +
      "(its --discovery-tools-enabled, read from the cluster gateway's Deployment when unset); " +
      "--discovery-tools=false turns them off.",
  },
  {
    name: "discovery-tool-threshold",
    type: "string",
    default: "0",
    description: "With more tools than this, a new session lists only the meta-tools until it calls " +
      "select_tools (the broker's --discovery-tool-threshold, read from the cluster gateway's " +
      "Deployment when unset); 0 never hides.",
  },
  {
    name: "federate-all",
    type: "boolean",
    description: "Serve what the cluster's broker v0.9.0 does not: every server's resources under " +
      "reversible mcp+<server>: URIs (and resources/read of them), resource templates, completions, " +
      "logging and resource subscriptions; the default is the cluster's behaviour.",
  },
  ALL_NAMESPACES_FLAG,
  ...KUBE_FLAGS,
] as const satisfies Command["flags"];

/** `simulate --dev-idp`: a local identity provider serving every AuthPolicy's jwt issuer. */
export const DEV_IDP_FLAGS = [
  {
    name: "dev-idp",
    type: "boolean",
    description: "Run a local OIDC identity provider and point every replayed AuthPolicy's jwt issuer at " +
      "it (--issuer-override still wins for the issuers it names); the gateway's protected-resource " +
      "metadata names it, so MCP clients log in through the gateway's 401. Get a token for scripts " +
      "with 'kubectl mcp token --user NAME'.",
  },
  {
    name: "users",
    type: "string",
    description: "With --dev-idp: a YAML or JSON file mapping each user name to its tokens' claims " +
      "(resource_access, groups, ...); default: alice (groups mcp-admins) and bob (groups mcp-developers).",
    complete: "file",
  },
  {
    name: "dev-idp-port",
    type: "string",
    default: "0",
    description: "With --dev-idp: the port on 127.0.0.1 it listens on (0: any free port).",
  },
] as const satisfies Command["flags"];

/** Starts the dev identity provider the flags ask for, or none; prints nothing. */
async function startDevIdpFromFlags(flags: Flags): Promise<{ idp: DevIdp; usersFrom: string } | undefined> {
  const usersFile = flags.string("users");
  if (!flags.boolean("dev-idp")) {
    if (usersFile !== undefined) throw new UsageError("--users needs --dev-idp");
    if (flags.given("dev-idp-port")) throw new UsageError("--dev-idp-port needs --dev-idp");
    return undefined;
  }
  const portText = flags.string("dev-idp-port") ?? "0";
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new UsageError(`invalid value "${portText}" for --dev-idp-port: expected a port number`);
  }
  const users = usersFile !== undefined ? await readUsersFile(usersFile) : defaultUsers();
  try {
    const { startDevIdp } = await import("../idp/provider.ts");
    return { idp: await startDevIdp({ users, port }), usersFrom: usersFile ?? "the default pair" };
  } catch (error) {
    if ((error as { code?: string })?.code === "EADDRINUSE" || error instanceof Deno.errors.AddrInUse) {
      throw new UsageError(`port ${port} on 127.0.0.1 is in use; choose another with --dev-idp-port`);
    }
    throw error;
  }
}

/** What `simulate --dev-idp` prints at start-up: the provider, its users, how to get a token. */
export function formatDevIdpSummary(
  idp: DevIdp,
  usersFrom: string,
  gatewayUrl: string,
  notes: readonly string[] = [],
): string {
  const names = Object.keys(idp.users);
  const serves = notes.some((note) => note.includes(`replaced by the dev identity provider ${idp.issuer}`));
  const width = Math.max(...names.map((name) => name.length));
  const gatewayFlag = gatewayUrl === "http://127.0.0.1:8080/mcp" ? "" : ` --gateway ${gatewayUrl}`;
  return [
    `dev identity provider: ${idp.issuer} (login page, code + PKCE, client credentials, registration)`,
    `  users (${usersFrom}):`,
    ...names.map((name) => `    ${name.padEnd(width)}  ${describeUser(idp.users[name])}`),
    `  a token: kubectl mcp token --user ${names[0]}${gatewayFlag}`,
    `  MCP clients log in through the gateway's 401: its metadata names this provider.`,
    ...(serves ? [] : [
      "  No replayed AuthPolicy has a jwt rule (yet): nothing checks these tokens; a policy added later is served too.",
    ]),
    "",
  ].join("\n");
}

/**
 * Validates documents before they are replayed. Objects the API server would reject cannot exist in
 * a cluster, so they stop the replay; what only the gateway rejects (a duplicate prefix, a route of
 * the wrong shape) is printed and then replayed, so the simulator shows the gateway's behaviour.
 */
function validationGate(io: Io): (documents: ManifestDocument[]) => Promise<void> {
  return async (documents) => {
    // Loaded here: `tools` and `call` share these flags, and most of their runs read no files.
    const [{ validateManifests }, { formatFinding }] = await Promise.all([
      import("../validate/mod.ts"),
      import("./validate.ts"),
    ]);
    const report = validateManifests(documents);
    for (const finding of report.findings) {
      // The replay itself warns about the broker's defects, once, for files and the cluster alike.
      if (finding.code.startsWith("broker.")) continue;
      if (finding.severity === "error" || !finding.code.startsWith("ref.")) {
        io.err(formatFinding(finding) + "\n");
      }
    }
    const rejected = report.findings.filter((finding) => finding.severity === "error" && finding.apiserver);
    if (rejected.length > 0) {
      throw new ValidationFailedError(
        `the manifests have ${rejected.length} error(s) the API server would reject; fix them to simulate`,
      );
    }
  };
}

let clusterFactory: ClusterReplayFactory | undefined;

/** Installs another cluster replay; without one, `src/kube/replay.ts`'s is loaded when first needed. */
export function setClusterReplayFactory(factory: ClusterReplayFactory): void {
  clusterFactory = factory;
}

/** Builds the replay options every replay verb shares from its flags. */
export async function replayOptionsFromFlags(flags: Flags, io: Io): Promise<ReplayOptions> {
  const files = flags.strings("filename");
  const upstreams = parseUpstreams(flags.strings("upstream"));
  if (flags.boolean("overlay") && files.length === 0) throw new UsageError("--overlay needs -f FILE|DIR");
  const thresholdText = flags.string("discovery-tool-threshold") ?? "0";
  if (!/^\d+$/.test(thresholdText)) {
    throw new UsageError(
      `invalid value "${thresholdText}" for --discovery-tool-threshold: expected a whole number of tools, 0 or more`,
    );
  }
  // Only what the command line says: the rest comes from the cluster gateway's broker flags, or defaults.
  const given = <T>(name: string, value: T) => flags.given(name) ? value : undefined;
  const settings = {
    enforceVirtualServers: flags.boolean("enforce-virtual-servers"),
    invalidToolPolicy: given(
      "invalid-tool-policy",
      flags.string("invalid-tool-policy") as "FilterOut" | "RejectServer",
    ),
    discoveryTools: given("discovery-tools", flags.boolean("discovery-tools")),
    discoveryToolThreshold: given("discovery-tool-threshold", Number(thresholdText)),
  };
  const common = {
    gatewayExtension: flags.string("gateway-extension"),
    settings,
    federateAll: flags.boolean("federate-all"),
  };
  if (files.length > 0 && !flags.boolean("overlay")) {
    const source = fileSource(files, { recursive: flags.boolean("recursive"), check: validationGate(io) });
    return { ...common, source, resolver: staticResolver(upstreams) };
  }
  const factory = clusterFactory ?? (await import("../kube/replay.ts")).clusterReplayFactory;
  const overlay = files.length > 0
    ? fileSource(files, { recursive: flags.boolean("recursive"), check: validationGate(io) })
    : undefined;
  const kubeReviews = await factory.reviews?.(flags, io);
  return {
    ...common,
    source: await factory.source(flags, io, overlay),
    resolver: await factory.resolver(flags, io, upstreams),
    ...(kubeReviews ? { kubeReviews } : {}),
  };
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 19);
}

/** The `simulate` verb. */
export const simulateCommand: Command = {
  name: "simulate",
  aliases: ["sim"],
  summary: "Run a local MCP gateway replaying the cluster's (or the files') registrations",
  description: [
    "Run a local MCP gateway that replays MCPServerRegistrations, MCPVirtualServers, the",
    "MCPGatewayExtension and the AuthPolicies (kuadrant.io/v1) on its Gateway and routes against the",
    "real MCP servers: from the cluster through port-forwards, from files with -f (no cluster needed;",
    "give each server's URL with --upstream), or from files laid over the cluster with -f DIR --overlay.",
    "Changes are followed live; client sessions survive reloads.",
  ].join("\n"),
  usage: "simulate [-n NAMESPACE | -A] [-f DIR [--overlay]] [--upstream NAME=URL]... [--port 8080] [options]",
  examples: [
    { comment: "Replay the cluster's registrations in every namespace", command: "kubectl mcp simulate -A" },
    {
      comment: "Replay manifests with no cluster, reaching the weather server locally",
      command: "kubectl mcp simulate -f manifests/ --upstream weather=http://127.0.0.1:9001/mcp",
    },
    {
      comment: "Try a change before applying it",
      command: "kubectl mcp simulate -f new-registration.yaml --overlay",
    },
    {
      comment:
        "Replay the AuthPolicies with a local identity provider and its users (then: kubectl mcp token --user alice)",
      command: "kubectl mcp simulate -f manifests/ --dev-idp --users users.yaml",
    },
    {
      comment: "Replay the AuthPolicies, fetching the keys of their issuer from a local one",
      command:
        "kubectl mcp simulate -A --issuer-override https://idp.example.com/realms/mcp=http://127.0.0.1:8081/realms/mcp",
    },
  ],
  flags: [
    {
      name: "port",
      type: "string",
      default: "8080",
      description: "Port the gateway listens on (0 for any free port).",
    },
    { name: "address", type: "string", default: "127.0.0.1", description: "Address the gateway listens on." },
    {
      name: "session-store",
      type: "string",
      description: "Keep sessions in this Redis (redis://[USER:PASSWORD@]HOST:PORT/DB) so replicas share " +
        "them; default: the extension's spec.sessionStore Secret when reachable, else memory.",
    },
    {
      name: "session-signing-key",
      type: "string",
      description: "Key (16+ bytes) signing session ids; give every replica the same one. With a Redis " +
        "session store and no key, the replicas share one kept in Redis.",
    },
    {
      name: "public-host",
      type: "string",
      multiple: true,
      description: "A host name clients reach the gateway by besides loopback ones and the extension's " +
        "publicHost (HOST or HOST:PORT, repeatable); other Host headers get 403 (DNS rebinding guard).",
    },
    {
      name: "max-sessions",
      type: "string",
      default: String(DEFAULT_MAX_SESSIONS),
      description: "Client sessions the gateway holds at most; an initialize past it gets 503.",
    },
    ...AUTH_POLICY_FLAGS,
    ...DEV_IDP_FLAGS,
    ...REPLAY_FLAGS,
  ],
  async run({ io, args, flags }) {
    if (args.length > 0) throw new UsageError(`simulate takes no arguments, got "${args[0]}"`);
    const portText = flags.string("port") ?? "8080";
    const port = Number(portText);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`invalid value "${portText}" for --port: expected a port number`);
    }
    const sessionStore = flags.string("session-store");
    if (sessionStore !== undefined && !/^rediss?:\/\//.test(sessionStore)) {
      throw new UsageError(
        `invalid value "${sessionStore}" for --session-store: expected redis://HOST:PORT/DB or rediss://...`,
      );
    }
    const signingKey = flags.string("session-signing-key");
    if (signingKey !== undefined && new TextEncoder().encode(signingKey).length < 16) {
      throw new UsageError("--session-signing-key must be at least 16 bytes long");
    }
    const maxText = flags.string("max-sessions") ?? String(DEFAULT_MAX_SESSIONS);
    const maxSessions = Number(maxText);
    if (!Number.isInteger(maxSessions) || maxSessions < 1) {
      throw new UsageError(`invalid value "${maxText}" for --max-sessions: expected a positive whole number`);
    }
    const issuerOverrides = parseIssuerOverrides(flags.strings("issuer-override"));
    const opaPath = flags.string("opa");
    const options = await replayOptionsFromFlags(flags, io);
    let dev: Awaited<ReturnType<typeof startDevIdpFromFlags>>;
    try {
      dev = await startDevIdpFromFlags(flags);
    } catch (error) {
      await options.resolver.close();
      throw error;
    }
    let replay: Replay;
    try {
      replay = await startReplay({
        ...options,
        sessionStore,
        sessionStoreFromExtension: true,
        signingKey,
        maxSessions,
        publicHosts: flags.strings("public-host"),
        auth: {
          unsupportedRules: flags.string("unsupported-rules") === "allow" ? "allow" : "deny",
          issuerOverrides,
          ...(opaPath ? { opaPath } : {}),
          ...(dev ? { devIdp: { issuer: dev.idp.issuer, jwksUri: dev.idp.jwksUri } } : {}),
        },
        port,
        hostname: flags.string("address"),
        onChange: (line) => io.out(`${timestamp()} ${line}\n`),
        onWarning: (warning) => io.err(`${timestamp()} ${formatReplayWarning(warning)}`),
        logger: (level, message) => {
          if (level === "warn" || level === "error") io.err(`${timestamp()} ${level}: ${message}\n`);
        },
      });
    } catch (error) {
      await options.resolver.close();
      await dev?.idp.close();
      if (error instanceof Deno.errors.AddrInUse) {
        throw new UsageError(
          `port ${port} on ${flags.string("address")} is in use; choose another with --port`,
        );
      }
      throw error;
    }
    try {
      const rows = await replay.rows();
      io.out(formatServerSummary(rows));
      for (const note of replay.notes) io.out(`note: ${note}\n`);
      const auth = replay.auth && formatAuthSummary(replay.auth);
      if (auth) io.out(`\n${auth}`);
      const limits = replay.rateLimits && formatRateLimitSummary(replay.rateLimits);
      if (limits) io.out(`\n${limits}`);
      if (dev) io.out(`\n${formatDevIdpSummary(dev.idp, dev.usersFrom, replay.url, replay.auth?.notes)}`);
      for (const warning of replay.warnings) io.err(formatReplayWarning(warning));
      const store = replay.sessionStore;
      io.out(`\nsession store: ${store.description}${store.note ? ` (${store.note})` : ""}\n`);
      const broker = replay.brokerFlags;
      if (broker) {
        io.out(
          `broker flags from Deployment ${broker.deployment}: ${
            broker.flags.join(" ") || "none that change behaviour"
          }\n`,
        );
        for (const problem of broker.problems) {
          io.err(`warning: Deployment ${broker.deployment}: ${problem}; not applied\n`);
        }
      }
      const status = await replay.status();
      io.out(
        `\nMCP gateway listening on ${replay.url} (${rows.length} servers, ${status.toolCount} tools). Ctrl-C to stop.\n`,
      );
      await waitForAbort(io.signal);
      io.out("Stopping.\n");
    } finally {
      await replay.close();
      await dev?.idp.close();
    }
    return 0;
  },
};
