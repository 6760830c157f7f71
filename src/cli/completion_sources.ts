/**
 * Completion values that need no cluster: kubeconfig contexts, clusters and users, and the names of
 * objects in the manifests given with `-f`. Cluster lookups are in `src/kube/completion.ts`.
 *
 * @module
 */

import { parse as parseYaml, parseAllDocuments } from "yaml";
import type { Candidate, CompletionProvider } from "./command.ts";

const KIND_BY_SOURCE: Record<string, string> = {
  "server": "MCPServerRegistration",
  "virtual-server": "MCPVirtualServer",
  "gateway-extension": "MCPGatewayExtension",
  "gateway": "Gateway",
  "route": "HTTPRoute",
  "secret": "Secret",
};

/** The kubeconfig files kubectl would read: `--kubeconfig`, else `KUBECONFIG`, else ~/.kube/config. */
export function kubeconfigPaths(
  explicit: string | undefined,
  env: (name: string) => string | undefined,
): string[] {
  if (explicit) return [explicit];
  const list = env("KUBECONFIG");
  if (list) return list.split(":").filter((path) => path !== "");
  const home = env("HOME");
  return home ? [`${home}/.kube/config`] : [];
}

/** Contexts, clusters and users of the kubeconfig files kubectl would read. */
export const kubeconfigNames: CompletionProvider = (source, { flags, io }) => {
  const section =
    ({ context: "contexts", cluster: "clusters", user: "users" } as Record<string, string>)[source];
  if (!section) return Promise.resolve([]);
  const names: Candidate[] = [];
  for (const path of kubeconfigPaths(flags.string("kubeconfig"), io.env)) {
    try {
      const config = parseYaml(Deno.readTextFileSync(path)) as Record<
        string,
        { name?: string }[] | undefined
      >;
      for (const entry of config?.[section] ?? []) if (entry?.name) names.push({ value: entry.name });
    } catch {
      // Unreadable kubeconfig files are reported by the verbs that need them, not by completion.
    }
  }
  return Promise.resolve(names);
};

/** Names of the objects of the source's kind in the manifests given with `-f`. */
export const manifestNames: CompletionProvider = async (source, { flags }) => {
  const kind = KIND_BY_SOURCE[source];
  if (!kind) return [];
  const candidates: Candidate[] = [];
  for (const path of flags.strings("filename")) {
    if (path === "-") continue;
    for (const file of await manifestFiles(path)) {
      for (const document of parseAllDocuments(await Deno.readTextFile(file))) {
        const object = document.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } };
        if (object?.kind !== kind || !object.metadata?.name) continue;
        const { name, namespace } = object.metadata;
        // Virtual servers are selected as namespace/name, the form the gateway header takes.
        candidates.push({ value: source === "virtual-server" && namespace ? `${namespace}/${name}` : name });
      }
    }
  }
  return candidates;
};

async function manifestFiles(path: string): Promise<string[]> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return [path];
  const files: string[] = [];
  for await (const entry of Deno.readDir(path)) {
    if (entry.isFile && /\.(ya?ml|json)$/.test(entry.name)) files.push(`${path}/${entry.name}`);
  }
  return files.sort();
}
