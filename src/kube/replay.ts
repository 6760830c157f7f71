/**
 * The cluster side of the replay: reads the MCP objects, their HTTPRoutes and credential Secrets
 * from the API server, watches them (and Pods, so a restarted Pod is re-resolved), and reaches each
 * registration's server through a port-forward to a ready Pod behind its route's Service.
 *
 * @module
 */

import type { Flags } from "../cli/command.ts";
import type { Io } from "../cli/io.ts";
import type { ClusterReplayFactory } from "../cli/simulate.ts";
import { KubeApiError } from "../errors.ts";
import {
  keyOf,
  overlay as overlayObjects,
  overrideFor,
  type ReplayObject,
  type ReplaySource,
  type Resolution,
  routeBackend,
  routeKeyOf,
  type UpstreamResolver,
} from "../replay/mod.ts";
import { CRDS } from "../model/mod.ts";
import { KubeClient, type KubeObject, type ResourceInfo } from "./client.ts";
import { openPortForward, type PortForward, resolveServiceToPod } from "./portforward.ts";
import { configOptionsFromFlags, resourceInfoOf } from "./resources.ts";
import { listAndWatch } from "./watch.ts";

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
const POD = core("Pod", "pods");
const HTTP_ROUTE: ResourceInfo = {
  ...core("HTTPRoute", "httproutes"),
  group: "gateway.networking.k8s.io",
  version: "v1",
};

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
  return {
    async load() {
      const objects: ReplayObject[] = [];
      for (const info of MCP_TYPES) {
        const everywhere = info.kind === "MCPGatewayExtension" ? null : namespace;
        const list = await client.list(info, { namespace: everywhere }).catch((error) => {
          if (
            everywhere === null && namespace !== null && error instanceof KubeApiError && error.status === 403
          ) {
            return client.list(info, { namespace });
          }
          throw error;
        });
        objects.push(...withKind(list.items, info));
      }
      // Gateway API may be missing (a cluster without it): registrations then show why they are unresolved.
      const routes = await client.list(HTTP_ROUTE, { namespace }).catch(() => ({
        items: [] as KubeObject[],
      }));
      objects.push(...withKind(routes.items, HTTP_ROUTE));
      const layered = options.overlay ? overlayObjects(objects, await options.overlay.load()) : objects;
      return [...layered, ...await referencedSecrets(client, layered)];
    },
    watch(onChange) {
      const abort = new AbortController();
      const follow = async (info: ResourceInfo, scope: string | null) => {
        try {
          for await (
            const _event of listAndWatch(client, info, {
              namespace: scope,
              signal: abort.signal,
              initialEvents: false,
            })
          ) onChange();
        } catch {
          // Missing types (no Gateway API) or a stopped watch: nothing more to follow.
        }
      };
      for (const info of [...MCP_TYPES, HTTP_ROUTE, POD]) follow(info, namespace);
      const stopOverlay = options.overlay?.watch?.(onChange);
      return () => {
        abort.abort();
        stopOverlay?.();
      };
    },
  };
}

function withKind(items: readonly KubeObject[], info: ResourceInfo): ReplayObject[] {
  const apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
  return items.map((item) => ({ ...item, apiVersion, kind: info.kind }) as ReplayObject);
}

/** The credential Secrets registrations refer to; ones that cannot be read are left out. */
async function referencedSecrets(
  client: KubeClient,
  objects: readonly ReplayObject[],
): Promise<ReplayObject[]> {
  const wanted = new Set<string>();
  for (const object of objects) {
    const ref = object.kind === "MCPServerRegistration"
      ? (object.spec?.credentialRef as { name?: string } | undefined)
      : undefined;
    if (ref?.name) wanted.add(`${object.metadata?.namespace ?? "default"}/${ref.name}`);
  }
  const present = new Set(
    objects.filter((object) => object.kind === "Secret").map((object) => keyOf(object)),
  );
  const secrets = await Promise.all(
    [...wanted].filter((key) => !present.has(key)).map(async (key) => {
      const [namespace, name] = key.split("/");
      try {
        return withKind([await client.get(SECRET, name, { namespace })], SECRET)[0];
      } catch {
        return undefined;
      }
    }),
  );
  return secrets.filter((secret): secret is ReplayObject => secret !== undefined);
}

interface OpenForward {
  key: string;
  pod: string;
  forward: PortForward;
}

/**
 * Resolves registrations through the cluster: `--upstream` overrides first, else HTTPRoute ->
 * Service -> ready Pod, reached by a port-forward kept open across refreshes while the Pod stays
 * the same. A Pod that changed (restart, reschedule) gets a new port-forward.
 */
export function portForwardResolver(
  client: KubeClient,
  upstreams: Readonly<Record<string, string>>,
): UpstreamResolver {
  const forwards = new Map<string, OpenForward>();
  return {
    async resolve(registration: ReplayObject, objects: readonly ReplayObject[]): Promise<Resolution> {
      const override = overrideFor(registration, upstreams);
      if (override) return { url: override, target: override };
      const backend = routeBackend(registration, objects);
      if ("reason" in backend) return { target: routeKeyOf(registration), reason: backend.reason };
      const target = `svc/${backend.service}:${backend.port}`;
      let pod: { pod: string; port: number };
      try {
        pod = await resolveServiceToPod(client, backend.namespace, backend.service, backend.port);
      } catch (error) {
        return { target, reason: (error as Error).message };
      }
      const name = keyOf(registration);
      const key = `${backend.namespace}/${pod.pod}:${pod.port}`;
      let open = forwards.get(name);
      if (open?.key !== key) {
        await open?.forward.close();
        try {
          const forward = await openPortForward(client, {
            namespace: backend.namespace,
            pod: pod.pod,
            port: pod.port,
          });
          open = { key, pod: pod.pod, forward };
          forwards.set(name, open);
        } catch (error) {
          forwards.delete(name);
          return {
            target,
            pod: pod.pod,
            reason: `port-forward to pod ${pod.pod}: ${(error as Error).message}`,
          };
        }
      }
      return { url: `http://127.0.0.1:${open!.forward.localPort}`, target, pod: pod.pod };
    },
    async retain(keep) {
      for (const [name, open] of forwards) {
        if (keep.has(name)) continue;
        forwards.delete(name);
        await open.forward.close();
      }
    },
    async close() {
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

/** The cluster replay `simulate`, `tools` and `call` use without `-f`. */
export const clusterReplayFactory: ClusterReplayFactory = {
  async source(flags, io, overlay) {
    const client = clientFor(flags, io);
    // Fail early and clearly (unreachable, unauthorized, CRDs missing) before starting anything.
    await client.resourceFor("mcp.kuadrant.io/v1", "MCPServerRegistration");
    const namespace = flags.boolean("all-namespaces") ? null : client.namespace;
    return clusterSource(client, { namespace, overlay });
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
