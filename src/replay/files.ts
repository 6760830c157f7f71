/**
 * Manifests as a replay source: `simulate -f DIR` reads them, validates them as `apply` would, and
 * watches them so an edited file reloads the gateway.
 *
 * @module
 */

import { loadManifests, type ManifestDocument } from "../manifest/mod.ts";
import type { ReplayObject } from "./state.ts";
import { UPSTREAM_URL_ANNOTATION } from "./resolve.ts";
import type { ReplaySource } from "./replay.ts";
import { configFromBrokerFile } from "../../sim/mod.ts";

/** Options of {@link fileSource}. */
export interface FileSourceOptions {
  /** Descend into subdirectories. */
  recursive?: boolean;
  /** Called with the documents each time they are read, e.g. to validate them. */
  check?: (documents: ManifestDocument[]) => void | Promise<void>;
}

/** Reads Kubernetes objects from files and directories, and watches them. */
export function fileSource(paths: readonly string[], options: FileSourceOptions = {}): ReplaySource {
  return {
    async load() {
      const documents = await loadManifests([...paths], { recursive: options.recursive });
      const manifests = documents.filter((document) => !isBrokerConfig(document.object));
      await options.check?.(manifests);
      const objects: ReplayObject[] = [];
      for (const document of documents) {
        if (isBrokerConfig(document.object)) objects.push(...brokerConfigObjects(document.object));
        else if (isObject(document.object)) objects.push(document.object as ReplayObject);
      }
      return objects;
    },
    watch(onChange) {
      const watchable = paths.filter((path) => path !== "-");
      if (watchable.length === 0) return () => {};
      const watcher = Deno.watchFs(watchable, { recursive: options.recursive ?? false });
      (async () => {
        try {
          for await (const event of watcher) if (event.kind !== "access") onChange();
        } catch {
          // The watcher ends when closed; nothing to report.
        }
      })();
      return () => watcher.close();
    },
  };
}

/**
 * Whether a document is upstream's standalone broker config (`servers: [...]` with no kind), which
 * `simulate -f` accepts in place of manifests.
 */
export function isBrokerConfig(object: unknown): boolean {
  return isObject(object) && !("kind" in object) && Array.isArray((object as { servers?: unknown }).servers);
}

/**
 * Turns upstream's broker config (`servers: [{name, url, hostname, enabled, prefix, credential,
 * category, hint, tags}]`,
 * `virtualServers: [...]`) into the objects a cluster would hold, so the replay treats both alike.
 * Each registration carries its URL in {@link UPSTREAM_URL_ANNOTATION}.
 */
export function brokerConfigObjects(document: unknown): ReplayObject[] {
  const config = configFromBrokerFile(JSON.stringify(document));
  return [
    ...config.servers.flatMap((server) => {
      const [namespace, name] = server.name.includes("/")
        ? server.name.split("/", 2)
        : ["default", server.name];
      const objects: ReplayObject[] = [];
      const spec: Record<string, unknown> = {
        targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name },
        prefix: server.prefix,
        path: server.path,
        state: server.enabled ? "Enabled" : "Disabled",
        ...(server.category ? { category: server.category } : {}),
        ...(server.hint ? { hint: server.hint } : {}),
        ...(server.tags ? { tags: server.tags } : {}),
        ...(server.userSpecificList ? { userSpecificList: "Enabled" } : {}),
      };
      if (server.credential !== undefined) {
        spec.credentialRef = { name: `${name}-credential`, key: "token" };
        objects.push({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: `${name}-credential`, namespace, labels: { "mcp.kuadrant.io/secret": "true" } },
          stringData: { token: server.credential },
        });
      }
      objects.push({
        apiVersion: "mcp.kuadrant.io/v1",
        kind: "MCPServerRegistration",
        metadata: { name, namespace, annotations: { [UPSTREAM_URL_ANNOTATION]: server.url } },
        spec,
      });
      return objects;
    }),
    ...config.virtualServers.map((virtualServer): ReplayObject => {
      const [namespace, name] = virtualServer.name.includes("/")
        ? virtualServer.name.split("/", 2)
        : ["default", virtualServer.name];
      return {
        apiVersion: "mcp.kuadrant.io/v1",
        kind: "MCPVirtualServer",
        metadata: { name, namespace },
        spec: {
          tools: virtualServer.tools,
          ...(virtualServer.prompts ? { prompts: virtualServer.prompts } : {}),
        },
      };
    }),
  ];
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
