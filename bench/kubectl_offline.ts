/**
 * Lets the real kubectl map kinds without a cluster. kubectl resolves every document's kind through
 * API discovery even with `--dry-run=client`, so this serves the discovery documents an API server
 * with the project's CRDs (plus the Gateway API and Kuadrant CRDs the test cluster installs) would
 * serve: written into a fresh `--cache-dir` (a user's warm discovery cache), and also answered by a
 * loopback HTTP server for the re-discovery kubectl does when a kind is missing from the cache (the
 * unserved `v1alpha1` documents). Only discovery is served: `/openapi/*` answers 404, so kubectl's
 * client-side schema validation cannot run and `--validate=false` is needed.
 *
 * @module
 */

import { parseAllDocuments } from "yaml";
import { ROOT } from "./lib.ts";

/** A discovery endpoint plus the kubeconfig and cache directory pointing at it. */
export interface OfflineKubectl extends AsyncDisposable {
  /** Kubeconfig naming {@linkcode OfflineKubectl.server}. */
  kubeconfig: string;
  /** `--cache-dir` holding the seeded discovery documents. */
  cacheDir: string;
  /** `http://127.0.0.1:PORT` of the discovery server. */
  server: string;
  /** Arguments to add to every kubectl run. */
  args: string[];
  /** Group/versions served. */
  groupVersions: string[];
  /** Requests the discovery server answered, by path. */
  requests: Record<string, number>;
  /** Stops the discovery server. */
  close(): Promise<void>;
}

interface ApiResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  kind: string;
  verbs: string[];
  shortNames?: string[];
}

const VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

const CORE: ApiResource[] = ([
  ["secrets", "secret", "Secret", true],
  ["services", "service", "Service", true],
  ["configmaps", "configmap", "ConfigMap", true],
  ["namespaces", "namespace", "Namespace", false],
] as const).map(([name, singularName, kind, namespaced]) => ({
  name,
  singularName,
  kind,
  namespaced,
  verbs: VERBS,
}));

async function crdFiles(): Promise<string[]> {
  const files: string[] = [];
  for (const dir of [`${ROOT}crds`, `${ROOT}test/cluster/bin/crds`]) {
    try {
      for await (const e of Deno.readDir(dir)) {
        if (e.isFile && e.name.endsWith(".yaml")) files.push(`${dir}/${e.name}`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return files.sort();
}

/** Discovery documents by URL path (`/api`, `/apis`, `/api/v1`, `/apis/G/V`). */
async function discoveryDocuments(): Promise<Map<string, unknown>> {
  const byGv = new Map<string, ApiResource[]>([["v1", CORE]]);
  const groups = new Map<string, string[]>();
  for (const file of await crdFiles()) {
    for (const doc of parseAllDocuments(await Deno.readTextFile(file))) {
      // deno-lint-ignore no-explicit-any
      const crd = doc.toJS() as any;
      if (crd?.kind !== "CustomResourceDefinition") continue;
      const { group, names, scope, versions } = crd.spec;
      for (const v of versions ?? []) {
        if (!v.served) continue;
        const gv = `${group}/${v.name}`;
        const list = groups.get(group) ?? [];
        if (!list.includes(v.name)) list.push(v.name);
        groups.set(group, list);
        const resources = byGv.get(gv) ?? [];
        resources.push({
          name: names.plural,
          singularName: names.singular ?? names.kind.toLowerCase(),
          namespaced: scope === "Namespaced",
          kind: names.kind,
          verbs: VERBS,
          ...(names.shortNames ? { shortNames: names.shortNames } : {}),
        });
        byGv.set(gv, resources);
      }
    }
  }
  const docs = new Map<string, unknown>();
  docs.set("/api", { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [] });
  docs.set("/apis", {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: [...groups].map(([name, versions]) => {
      // Prefer v1 where a group serves it, as the API server does for these CRDs.
      const preferred = versions.includes("v1") ? "v1" : versions[0];
      return {
        name,
        versions: versions.map((version) => ({ groupVersion: `${name}/${version}`, version })),
        preferredVersion: { groupVersion: `${name}/${preferred}`, version: preferred },
      };
    }),
  });
  for (const [gv, resources] of byGv) {
    docs.set(gv === "v1" ? "/api/v1" : `/apis/${gv}`, {
      kind: "APIResourceList",
      apiVersion: "v1",
      groupVersion: gv,
      resources,
    });
  }
  return docs;
}

/** Starts the discovery server and writes the cache and kubeconfig into `dir`. */
export async function startOfflineKubectl(dir: string): Promise<OfflineKubectl> {
  const docs = await discoveryDocuments();
  const requests: Record<string, number> = {};
  const ac = new AbortController();
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    signal: ac.signal,
    onListen: (addr) => listening.resolve(addr),
  }, (req) => {
    const path = new URL(req.url).pathname;
    requests[path] = (requests[path] ?? 0) + 1;
    const doc = docs.get(path);
    return doc ? Response.json(doc) : new Response("404 page not found\n", { status: 404 });
  });
  const addr = await listening.promise;
  const url = `http://127.0.0.1:${addr.port}`;
  const cacheDir = `${dir}/kube-cache`;
  // kubectl's cache directory for a host: scheme dropped, other unsafe characters replaced by `_`.
  const hostDir = `${cacheDir}/discovery/127.0.0.1_${addr.port}`;
  const write = async (path: string, value: unknown) => {
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, JSON.stringify(value));
  };
  const apis = docs.get("/apis") as { groups: unknown[] };
  await write(`${hostDir}/servergroups.json`, {
    ...apis,
    groups: [
      {
        name: "",
        versions: [{ groupVersion: "v1", version: "v1" }],
        preferredVersion: { groupVersion: "v1", version: "v1" },
      },
      ...apis.groups,
    ],
  });
  const groupVersions: string[] = [];
  for (const [path, doc] of docs) {
    if (!path.startsWith("/api/") && !path.startsWith("/apis/")) continue;
    const gv = path.replace(/^\/apis?\//, "");
    groupVersions.push(gv);
    await write(`${hostDir}/${gv}/serverresources.json`, doc);
  }
  const kubeconfig = `${dir}/kubeconfig`;
  await Deno.writeTextFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "offline", cluster: { server: url } }],
      users: [{ name: "offline", user: {} }],
      contexts: [{ name: "offline", context: { cluster: "offline", user: "offline", namespace: "default" } }],
      "current-context": "offline",
    }),
  );
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= (async () => {
      ac.abort();
      await server.finished;
    })();
  return {
    kubeconfig,
    cacheDir,
    server: url,
    args: ["--kubeconfig", kubeconfig, "--cache-dir", cacheDir],
    groupVersions,
    requests,
    close,
    [Symbol.asyncDispose]: close,
  };
}
