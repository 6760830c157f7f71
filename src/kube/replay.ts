/**
 * The cluster side of the replay: reads the MCP objects, their HTTPRoutes and credential Secrets,
 * the AuthPolicies and RateLimitPolicies with the Gateways they may target and the Secrets the
 * AuthPolicies read, from the API server, watches them (and Pods, so a restarted Pod is re-resolved),
 * and reaches each registration's server (and each issuer that is a cluster Service) through a
 * port-forward to a ready Pod behind its Service.
 *
 * @module
 */

import type { Flags } from "../cli/command.ts";
import type { Io } from "../cli/io.ts";
import { KubeApiError } from "../errors.ts";
import {
  authConfigNamespace,
  authPoliciesOf,
  type AuthSecretRefs,
  authSecretRefs,
  BROKER_DEPLOYMENT,
  keyOf,
  overlay as overlayObjects,
  overrideFor,
  type ReplayObject,
  type ReplaySource,
  type Resolution,
  type ResolverEvents,
  routeBackend,
  routeKeyOf,
  type ServiceBackend,
  serviceForwardKey,
  type UpstreamResolver,
} from "../replay/mod.ts";
import { CRDS } from "../model/mod.ts";
import { KubeClient, type KubeObject, type ResourceInfo } from "./client.ts";
import {
  ENDPOINT_SLICE,
  openPortForward,
  POD,
  type PortForward,
  resolveServiceToPod,
  SERVICE,
  type ServiceTarget,
} from "./portforward.ts";
import { configOptionsFromFlags, resourceInfoOf } from "./resources.ts";
import { listAndWatch } from "./watch.ts";
import { KubeReviews } from "./reviews.ts";
import type { KubeReviewClient } from "../../sim/auth/types.ts";

const core = (kind: string, plural: string): ResourceInfo => ({
  group: "",
  version: "v1",
  kind,
  plural,
  singular: kind.toLowerCase(),
  namespaced: true,
  verbs: [],
  shortNames: [],
});

const SECRET = core("Secret", "secrets");
const HTTP_ROUTE: ResourceInfo = {
  ...core("HTTPRoute", "httproutes"),
  group: "gateway.networking.k8s.io",
  version: "v1",
};
const GATEWAY: ResourceInfo = { ...HTTP_ROUTE, kind: "Gateway", plural: "gateways", singular: "gateway" };
const AUTH_POLICY: ResourceInfo = {
  ...core("AuthPolicy", "authpolicies"),
  group: "kuadrant.io",
  version: "v1",
};
const RATE_LIMIT_POLICY: ResourceInfo = {
  ...core("RateLimitPolicy", "ratelimitpolicies"),
  group: "kuadrant.io",
  version: "v1",
};
/** The Kuadrant install: its namespace is where AuthConfigs, their apiKey Secrets and signing keys live. */
const KUADRANT: ResourceInfo = {
  ...core("Kuadrant", "kuadrants"),
  group: "kuadrant.io",
  version: "v1beta1",
};
/**
 * Read in every namespace when RBAC allows, else the chosen one: extensions, Gateways and their
 * AuthPolicies usually live in the Gateway's namespace, not the servers'.
 */
const WIDE_KINDS = new Set(["MCPGatewayExtension", "Gateway", "AuthPolicy", "RateLimitPolicy", "Kuadrant"]);
const DEPLOYMENT: ResourceInfo = { ...core("Deployment", "deployments"), group: "apps", version: "v1" };
/** The broker Deployments, whose flags set behaviour no CRD field does. */
const BROKER_SELECTOR = `metadata.name=${BROKER_DEPLOYMENT}`;

/** The label the gateway requires on credential Secrets; only those are watched. */
const CREDENTIAL_SELECTOR = "mcp.kuadrant.io/secret=true";

const MCP_TYPES = CRDS.map(resourceInfoOf);

/** Options of {@link clusterSource}. */
export interface ClusterSourceOptions {
  /** The namespace to read, or `null` for every namespace. */
  namespace: string | null;
  /** Files laid over the cluster's objects (`simulate -f DIR --overlay`). */
  overlay?: ReplaySource;
}

/**
 * Reads the replay's objects from the cluster. MCPGatewayExtensions are read across namespaces when
 * RBAC allows, since the extension usually lives in the Gateway's namespace, not the servers'.
 */
export function clusterSource(client: KubeClient, options: ClusterSourceOptions): ReplaySource {
  const namespace = options.namespace;
  /** The Secrets the AuthPolicies read, as of the last load; the watch follows them. */
  let authRefs: AuthSecretRefs = { selectors: [], named: [] };
  /** Follows the Secrets of `authRefs` once watching (set by `watch`). */
  let followAuthSecrets: (() => void) | undefined;
  /** What could not be read in the last load, for the start-up output. */
  let problems: string[] = [];
  return {
    async load() {
      // The reads are independent, so they go out together; results and problems keep this order.
      const [mcp, routes, brokers, kuadrant] = await Promise.all([
        inOrder(MCP_TYPES.map(async (info) => {
          const everywhere = WIDE_KINDS.has(info.kind) ? null : namespace;
          const list = await client.list(info, { namespace: everywhere }).catch((error) => {
            if (
              everywhere === null && namespace !== null && error instanceof KubeApiError &&
              error.status === 403
            ) {
              return client.list(info, { namespace });
            }
            throw error;
          });
          return withKind(list.items, info);
        })),
        // Gateway API may be missing (a cluster without it): registrations then show why they are unresolved.
        client.list(HTTP_ROUTE, { namespace }).catch(() => ({ items: [] as KubeObject[] })),
        // The broker Deployment beside each extension (any namespace when allowed); none readable is fine.
        client.list(DEPLOYMENT, { namespace: null, fieldSelector: BROKER_SELECTOR })
          .catch(() => client.list(DEPLOYMENT, { namespace, fieldSelector: BROKER_SELECTOR }))
          .catch(() => ({ items: [] as KubeObject[] })),
        // Only its namespace matters, and kuadrant-system is the default: not being allowed to read it is no news.
        listWide(client, KUADRANT, namespace, []),
      ]);
      const objects: ReplayObject[] = [
        ...mcp.flat(),
        ...withKind(routes.items, HTTP_ROUTE),
        ...withKind(brokers.items, DEPLOYMENT),
        ...withKind(kuadrant, KUADRANT),
      ];
      // Policies attach to targets in their own namespace: the servers' (routes) and the Gateway's.
      const scopes = namespace === null ? [null] : [...new Set([namespace, ...gatewayNamespaces(objects)])];
      const policies = await Promise.all(
        [GATEWAY, AUTH_POLICY, RATE_LIMIT_POLICY].flatMap((info) =>
          scopes.map(async (scope) => {
            const unread: string[] = [];
            const items = scope === null
              ? await listWide(client, info, namespace, unread)
              : await listIn(client, info, scope, unread);
            return { items: withKind(items, info), unread };
          })
        ),
      );
      const unread: string[] = [];
      for (const each of policies) {
        objects.push(...each.items);
        unread.push(...each.unread);
      }
      const layered = options.overlay ? overlayObjects(objects, await options.overlay.load()) : objects;
      authRefs = authSecretRefs(authPoliciesOf(layered), authConfigNamespace(layered));
      followAuthSecrets?.();
      const secrets = await referencedSecrets(client, layered, authRefs, namespace, unread);
      problems = unread;
      return [...layered, ...secrets];
    },
    problems: () => problems,
    watch(onChange) {
      const abort = new AbortController();
      const fingerprints = new Map<string, string>();
      const follows: Follow[] = [
        ...MCP_TYPES.map((info) => ({
          info,
          scope: WIDE_KINDS.has(info.kind) ? null : namespace,
        })),
        { info: HTTP_ROUTE, scope: namespace },
        { info: GATEWAY, scope: null },
        { info: AUTH_POLICY, scope: null },
        { info: RATE_LIMIT_POLICY, scope: null },
        { info: KUADRANT, scope: null },
        { info: SERVICE, scope: namespace },
        { info: ENDPOINT_SLICE, scope: namespace },
        { info: POD, scope: namespace },
        { info: SECRET, scope: namespace, labelSelector: CREDENTIAL_SELECTOR },
        { info: DEPLOYMENT, scope: null, fieldSelector: BROKER_SELECTOR },
      ];
      let unsynced = follows.length;
      const synced = () => {
        // Whatever changed between load() and the watches' own lists arrives as no event: refresh once.
        if (--unsynced === 0 && !abort.signal.aborted) onChange();
      };
      const follow = async (
        { info, scope, labelSelector, fieldSelector }: Follow,
        signal: AbortSignal = abort.signal,
        onSynced: () => void = synced,
      ) => {
        let live = false;
        try {
          for await (
            const event of listAndWatch(client, info, {
              namespace: scope,
              labelSelector,
              fieldSelector,
              signal,
              onSynced: () => {
                live = true;
                onSynced();
              },
            })
          ) {
            const key = `${info.kind}|${event.object.metadata?.namespace}/${event.object.metadata?.name}`;
            if (event.type === "DELETED") {
              fingerprints.delete(key);
              if (live) onChange();
              continue;
            }
            // Status churn (Pod heartbeats, controllers' conditions) changes nothing the replay uses.
            const print = fingerprint(info.kind, event.object);
            if (fingerprints.get(key) === print) continue;
            fingerprints.set(key, print);
            if (live) onChange();
          }
        } catch (error) {
          if (signal.aborted) return;
          if (
            scope === null && namespace !== null && error instanceof KubeApiError && error.status === 403
          ) {
            // Not allowed across namespaces (extensions, broker Deployments): follow the chosen namespace.
            return follow({ info, scope: namespace, labelSelector, fieldSelector }, signal, onSynced);
          }
          // Missing types (no Gateway API, no EndpointSlices) or forbidden ones: nothing to follow.
          if (!live) onSynced();
        }
      };
      for (const each of follows) follow(each);
      // The Secrets the AuthPolicies read change with the policies: each selector and signing key gets
      // its own watch, started and stopped as the policies change (after each load).
      const secretFollows = new Map<string, AbortController>();
      followAuthSecrets = () => {
        if (abort.signal.aborted) return;
        const wanted = new Map<string, Follow>();
        for (const ref of authRefs.selectors) {
          const labelSelector = ref.labelSelector || undefined;
          wanted.set(`${ref.namespace}|${ref.labelSelector}`, {
            info: SECRET,
            scope: ref.namespace,
            labelSelector,
          });
        }
        for (const ref of authRefs.named) {
          wanted.set(`${ref.namespace}/${ref.name}`, {
            info: SECRET,
            scope: ref.namespace,
            fieldSelector: `metadata.name=${ref.name}`,
          });
        }
        for (const [key, stop] of secretFollows) {
          if (!wanted.has(key)) {
            stop.abort();
            secretFollows.delete(key);
          }
        }
        for (const [key, each] of wanted) {
          if (secretFollows.has(key)) continue;
          const stop = new AbortController();
          secretFollows.set(key, stop);
          // A Secret created between the load and this watch's own list arrives as no event: refresh once.
          follow(each, AbortSignal.any([abort.signal, stop.signal]), () => {
            if (!stop.signal.aborted) onChange();
          });
        }
      };
      followAuthSecrets();
      const stopOverlay = options.overlay?.watch?.(onChange);
      return () => {
        abort.abort();
        followAuthSecrets = undefined;
        stopOverlay?.();
      };
    },
  };
}

/** One list-and-watch of the cluster source. */
interface Follow {
  info: ResourceInfo;
  /** The namespace, or `null` for every namespace (the chosen one when that is forbidden). */
  scope: string | null;
  labelSelector?: string;
  fieldSelector?: string;
}

/** The namespaces of the Gateways the MCPGatewayExtensions target. */
function gatewayNamespaces(objects: readonly ReplayObject[]): string[] {
  return objects.filter((object) => object.kind === "MCPGatewayExtension").map((extension) =>
    (extension.spec?.targetRef as { namespace?: string } | undefined)?.namespace ??
      extension.metadata?.namespace ?? "default"
  );
}

/** Settles every read, then throws the first failure in the given order, as reading one by one would. */
async function inOrder<T>(reads: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(reads);
  return settled.map((each) => {
    if (each.status === "rejected") throw each.reason;
    return each.value;
  });
}

/** A kind in the plural, for the sentences about what could not be read (`RateLimitPolicies`). */
function kinds(info: ResourceInfo): string {
  return info.kind.endsWith("y") ? `${info.kind.slice(0, -1)}ies` : `${info.kind}s`;
}

/** Lists a kind in one namespace; a kind the cluster lacks is none, one that cannot be read is said. */
async function listIn(
  client: KubeClient,
  info: ResourceInfo,
  namespace: string,
  unread: string[],
): Promise<KubeObject[]> {
  try {
    return (await client.list(info, { namespace })).items;
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    if (error.status !== 404) {
      unread.push(`${kinds(info)} could not be read in namespace ${namespace}: ${(error as Error).message}`);
    }
    return [];
  }
}

/**
 * Lists a kind in every namespace when allowed, else in the chosen one. A kind the cluster does
 * not have (no Gateway API, no Kuadrant) is nothing to read; one that cannot be read is named in
 * `unread`, since replaying without it (an AuthPolicy above all) would serve what the cluster refuses.
 */
async function listWide(
  client: KubeClient,
  info: ResourceInfo,
  namespace: string | null,
  unread: string[],
): Promise<KubeObject[]> {
  try {
    return (await client.list(info, { namespace: null })).items;
  } catch (error) {
    if (!(error instanceof KubeApiError)) throw error;
    if (error.status === 404) return [];
    if (error.status !== 403 || namespace === null) {
      unread.push(`${kinds(info)} could not be read: ${error.message}`);
      return [];
    }
  }
  return await listIn(client, info, namespace, unread);
}

/**
 * What of an object the replay depends on: a change here triggers a refresh, anything else (status
 * written by controllers and kubelets, managed fields, resource versions) does not.
 */
function fingerprint(kind: string, object: KubeObject): string {
  const meta = object.metadata ?? {};
  const o = object as Record<string, unknown>;
  switch (kind) {
    case "Pod": {
      const status = o.status as PodStatus | undefined;
      const ready = (status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
      return JSON.stringify([meta.uid, meta.labels, meta.deletionTimestamp ?? null, status?.phase, ready]);
    }
    case "EndpointSlice":
      return JSON.stringify([meta.labels, o.endpoints, o.ports]);
    case "Secret":
      return JSON.stringify([meta.labels, o.data, o.stringData]);
    case "Deployment": {
      // Only the broker's flags matter, not scaling or rollouts.
      const containers =
        ((o.spec as { template?: { spec?: { containers?: unknown[] } } } | undefined)?.template
          ?.spec?.containers ?? []) as { command?: unknown; args?: unknown }[];
      return JSON.stringify(containers.map((c) => [c.command, c.args]));
    }
    default: {
      const annotations = { ...meta.annotations };
      delete annotations["kubectl.kubernetes.io/last-applied-configuration"];
      return JSON.stringify([meta.labels, annotations, o.spec]);
    }
  }
}

interface PodStatus {
  phase?: string;
  conditions?: { type: string; status: string }[];
}

function withKind(items: readonly KubeObject[], info: ResourceInfo): ReplayObject[] {
  const apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
  return items.map((item) => ({ ...item, apiVersion, kind: info.kind }) as ReplayObject);
}

/**
 * The Secrets the replay reads: registrations' credentials, each MCPGatewayExtension's
 * `spec.sessionStore` Secret (in the extension's namespace) for `simulate`'s session store and its
 * `spec.trustedHeadersKey` Secret for the wristband's public key, and the AuthPolicies' apiKey
 * Secrets (by label selector) and wristband signing keys (by name). Ones that cannot be read are
 * left out; for the AuthPolicies' ones, `unread` says so.
 */
async function referencedSecrets(
  client: KubeClient,
  objects: readonly ReplayObject[],
  auth: AuthSecretRefs,
  namespace: string | null,
  unread: string[],
): Promise<ReplayObject[]> {
  const wanted = new Set<string>();
  for (const object of objects) {
    const ref = object.kind === "MCPServerRegistration"
      ? (object.spec?.credentialRef as { name?: string } | undefined)
      : undefined;
    if (ref?.name) wanted.add(`${object.metadata?.namespace ?? "default"}/${ref.name}`);
    const store = object.kind === "MCPGatewayExtension"
      ? (object.spec?.sessionStore as { secretName?: string } | undefined)
      : undefined;
    if (store?.secretName) wanted.add(`${object.metadata?.namespace ?? "default"}/${store.secretName}`);
    const trusted = object.kind === "MCPGatewayExtension"
      ? (object.spec?.trustedHeadersKey as { secretName?: string } | undefined)
      : undefined;
    if (trusted?.secretName) wanted.add(`${object.metadata?.namespace ?? "default"}/${trusted.secretName}`);
  }
  const signingKeys = new Set(auth.named.map((ref) => `${ref.namespace}/${ref.name}`));
  for (const key of signingKeys) wanted.add(key);
  const present = new Set(
    objects.filter((object) => object.kind === "Secret").map((object) => keyOf(object)),
  );
  const secrets = await Promise.all(
    [...wanted].filter((key) => !present.has(key)).map(async (key) => {
      const [namespace, name] = key.split("/");
      try {
        return withKind([await client.get(SECRET, name, { namespace })], SECRET)[0];
      } catch (error) {
        if (signingKeys.has(key) && !(error instanceof KubeApiError && error.status === 404)) {
          unread.push(
            `the wristband signing key Secret ${key} could not be read: ${(error as Error).message}`,
          );
        }
        return undefined;
      }
    }),
  );
  const selected = await Promise.all(auth.selectors.map(async (ref) => {
    const labelSelector = ref.labelSelector || undefined;
    const where = ref.namespace === null ? "any namespace" : `namespace ${ref.namespace}`;
    try {
      return withKind((await client.list(SECRET, { namespace: ref.namespace, labelSelector })).items, SECRET);
    } catch (error) {
      if (
        ref.namespace === null && namespace !== null && error instanceof KubeApiError && error.status === 403
      ) {
        // allNamespaces without the right to read them: the chosen namespace's, said at start-up.
        unread.push(
          `apiKey Secrets (${ref.labelSelector || "any labels"}) could not be read in every ` +
            `namespace (${error.message}); only namespace ${namespace}'s are used`,
        );
        return withKind(
          (await client.list(SECRET, { namespace, labelSelector }).catch(() => ({ items: [] }))).items,
          SECRET,
        );
      }
      unread.push(
        `apiKey Secrets (${ref.labelSelector || "any labels"}) in ${where} could not be read: ${
          (error as Error).message
        }`,
      );
      return [];
    }
  }));
  const found = new Map<string, ReplayObject>();
  for (const secret of [...secrets, ...selected.flat()]) {
    if (secret && !present.has(keyOf(secret))) found.set(keyOf(secret), secret);
  }
  return [...found.values()];
}

interface OpenForward {
  /** `namespace/pod@uid:port`: a replaced Pod (same name, new uid) gets a new port-forward. */
  key: string;
  pod: string;
  forward: PortForward;
  /** Why the port-forward failed since it was opened; it is reopened at the next resolve. */
  broken?: string;
}

/** Options of {@link portForwardResolver}. */
export interface PortForwardResolverOptions {
  /** First wait before re-resolving after a port-forward failed, in ms (default 500). */
  initialBackoffMs?: number;
  /** Longest wait, in ms (default 30000); failures further apart than this start again from the first. */
  maxBackoffMs?: number;
}

/**
 * Resolves registrations through the cluster: `--upstream` overrides first, else HTTPRoute ->
 * Service -> ready Pod, reached by a port-forward kept open across refreshes while the Pod stays
 * the same. A Pod that changed (restart, reschedule: a new uid) gets a new port-forward, and so
 * does one whose port-forward failed: the failure is reported and a refresh requested after a
 * backoff that doubles while failures follow each other.
 */
export function portForwardResolver(
  client: KubeClient,
  upstreams: Readonly<Record<string, string>>,
  options: PortForwardResolverOptions = {},
): UpstreamResolver {
  const initialBackoff = options.initialBackoffMs ?? 500;
  const maxBackoff = options.maxBackoffMs ?? 30_000;
  const forwards = new Map<string, OpenForward>();
  const backoff = new Map<string, { failures: number; last: number }>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let events: ResolverEvents | undefined;
  /** A re-resolve became due before the replay listened (a backend down at start-up). */
  let due = false;
  let closed = false;

  const drop = async (name: string) => {
    const open = forwards.get(name);
    forwards.delete(name);
    await open?.forward.close();
  };
  const failed = (name: string, open: OpenForward, error: Error) => {
    if (closed || forwards.get(name) !== open || open.broken) return;
    // The kubelet's words repeat the port and Pod the line already names.
    open.broken = error.message.replace(
      /^port-forward to port \d+: error forwarding port \d+ to pod \S+, uid \S*: /,
      "",
    );
    const now = Date.now();
    const state = backoff.get(name) ?? { failures: 0, last: 0 };
    if (now - state.last > maxBackoff) state.failures = 0;
    const delay = Math.min(initialBackoff * 2 ** state.failures, maxBackoff);
    state.failures++;
    state.last = now;
    backoff.set(name, state);
    events?.report(
      `server ${name}: port-forward to pod ${open.pod} failed (${open.broken}); re-resolving in ${
        (delay / 1000).toFixed(1)
      }s`,
    );
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (closed) return;
      if (events) events.invalidate();
      else due = true;
    }, delay);
    timers.add(timer);
  };

  /** Reaches `backend` through a port-forward kept as `name`, reopened when its Pod changed or it broke. */
  const forwardTo = async (name: string, backend: ServiceBackend): Promise<Resolution> => {
    const target = `svc/${backend.service}:${backend.port}`;
    let key: string;
    let pod: ServiceTarget;
    try {
      // The ready Pod comes from a list just read: its UID and Running phase need no second read.
      pod = await resolveServiceToPod(client, backend.namespace, backend.service, backend.port);
      key = `${backend.namespace}/${pod.pod}@${pod.uid}:${pod.port}`;
    } catch (error) {
      await drop(name);
      return { target, reason: (error as Error).message };
    }
    let open = forwards.get(name);
    if (open?.key !== key || open.broken) {
      await drop(name);
      try {
        let opened: OpenForward | undefined;
        const forward = await openPortForward(client, {
          namespace: backend.namespace,
          pod: pod.pod,
          port: pod.port,
          podRunning: true,
          onError: (error) => opened && failed(name, opened, error),
        });
        if (closed) {
          await forward.close();
          return { target, pod: pod.pod, reason: "the replay is closing" };
        }
        open = opened = { key, pod: pod.pod, forward };
        forwards.set(name, open);
      } catch (error) {
        return {
          target,
          pod: pod.pod,
          reason: `port-forward to pod ${pod.pod}: ${(error as Error).message}`,
        };
      }
    }
    return { url: `http://127.0.0.1:${open.forward.localPort}`, target, pod: pod.pod };
  };

  return {
    async resolve(registration: ReplayObject, objects: readonly ReplayObject[]): Promise<Resolution> {
      const name = keyOf(registration);
      const override = overrideFor(registration, upstreams);
      if (override) {
        await drop(name);
        return { url: override, target: override };
      }
      const backend = routeBackend(registration, objects);
      if ("reason" in backend) {
        await drop(name);
        return { target: routeKeyOf(registration), reason: backend.reason };
      }
      return await forwardTo(name, backend);
    },
    forwardService: (backend) => forwardTo(serviceForwardKey(backend), backend),
    async retain(keep) {
      for (const name of [...forwards.keys()]) if (!keep.has(name)) await drop(name);
    },
    listen(listener) {
      events = listener;
      if (due) listener.invalidate();
      due = false;
    },
    async close() {
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await Promise.all([...forwards.values()].map((open) => open.forward.close()));
      forwards.clear();
    },
  };
}

const clients = new WeakMap<Flags, KubeClient>();

function clientFor(flags: Flags, io: Io): KubeClient {
  let client = clients.get(flags);
  if (!client) {
    client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    clients.set(flags, client);
  }
  return client;
}

/** How the cluster-backed parts of a replay are reached: {@link clusterReplayFactory}, or another in tests. */
export interface ClusterReplayFactory {
  /** A source reading the cluster (and files laid over it with `overlay`). */
  source(flags: Flags, io: Io, overlay?: ReplaySource): Promise<ReplaySource>;
  /** A resolver that port-forwards to the registrations' Pods (overrides first). */
  resolver(flags: Flags, io: Io, upstreams: Record<string, string>): Promise<UpstreamResolver>;
  /** The cluster's TokenReview and SubjectAccessReview, for the AuthPolicies' kubernetes rules. */
  reviews?(flags: Flags, io: Io): Promise<KubeReviewClient>;
}

/** The cluster replay `simulate`, `tools` and `call` use without `-f`. */
export const clusterReplayFactory: ClusterReplayFactory = {
  async source(flags, io, overlay) {
    const client = clientFor(flags, io);
    // Fail early and clearly (unreachable, unauthorized, CRDs missing) before starting anything.
    await client.resourceFor("mcp.kuadrant.io/v1", "MCPServerRegistration");
    const namespace = flags.boolean("all-namespaces") ? null : client.namespace;
    return clusterSource(client, { namespace, overlay });
  },
  reviews(flags, io) {
    return Promise.resolve(new KubeReviews(clientFor(flags, io)));
  },
  resolver(flags, io, upstreams) {
    const client = clientFor(flags, io);
    const resolver = portForwardResolver(client, upstreams);
    return Promise.resolve({
      ...resolver,
      async close() {
        await resolver.close();
        client.close();
      },
    });
  },
};
