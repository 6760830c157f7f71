/**
 * Installing the MCP gateway CRDs and comparing what a cluster has with what this plugin expects.
 * The CRD objects are the ones `crds/*.yaml` is rendered from (`src/model`), so a compiled plugin
 * carries them without reading files.
 *
 * @module
 */

import { KubeApiError } from "../errors.ts";
import { type CrdDefinition, CRDS, sortKeys, toCrdObject } from "../model/mod.ts";
import { crdFacts } from "../model/facts.ts";
import { applyObject, type ApplyOptions, type ApplyResult } from "./apply.ts";
import type { KubeClient, KubeObject, ResourceInfo } from "./client.ts";

/** The CustomResourceDefinition resource type. */
export const CRD_RESOURCE: ResourceInfo = {
  group: "apiextensions.k8s.io",
  version: "v1",
  kind: "CustomResourceDefinition",
  plural: "customresourcedefinitions",
  singular: "customresourcedefinition",
  namespaced: false,
  verbs: [],
  shortNames: ["crd", "crds"],
};

interface CrdObject extends KubeObject {
  spec?: { versions?: { name: string; served: boolean; storage: boolean }[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

/** The CRD objects kubectl-mcp installs, in `crds/` order. */
export function crdObjects(): KubeObject[] {
  return CRDS.map((crd) => toCrdObject(crd) as KubeObject);
}

/** The name of a CRD object, `plural.group`. */
export function crdName(crd: CrdDefinition): string {
  return `${crd.plural}.${crd.group}`;
}

/** Options of {@link installCrds}. */
export interface InstallCrdsOptions extends Pick<ApplyOptions, "fieldManager" | "force" | "dryRun"> {
  /** How long to wait for every CRD to be Established, in milliseconds (default 60 s). */
  timeoutMs?: number;
  /** Abort signal. */
  signal?: AbortSignal;
}

/**
 * Server-side applies every CRD and waits until the API server reports each one Established
 * (and so serves its kind). Applying again changes nothing, so install is idempotent.
 */
export async function installCrds(
  client: KubeClient,
  options: InstallCrdsOptions = {},
): Promise<ApplyResult[]> {
  const results: ApplyResult[] = [];
  for (const object of crdObjects()) {
    results.push(await applyObject(client, object, options));
  }
  if ((options.dryRun ?? "none") !== "none") return results;
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (const result of results) {
    const name = result.object.metadata!.name!;
    for (;;) {
      const crd = await client.get<CrdObject>(CRD_RESOURCE, name, { signal: options.signal });
      const established = crd.status?.conditions?.find((c) => c.type === "Established");
      if (established?.status === "True") break;
      const namesAccepted = crd.status?.conditions?.find((c) => c.type === "NamesAccepted");
      if (namesAccepted?.status === "False") {
        throw new KubeApiError(
          `CRD ${name} was not accepted: ${namesAccepted.message ?? namesAccepted.reason}`,
        );
      }
      if (Date.now() > deadline) {
        throw new KubeApiError(`timed out waiting for CRD ${name} to be Established`, {
          hint: established?.message,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return results;
}

/** One row of `crds status`. */
export interface CrdStatus {
  /** CRD name. */
  name: string;
  /** Whether the cluster has it. */
  installed: boolean;
  /** Installed versions with their flags, e.g. `v1 (served, storage)`; "" when not installed. */
  versions: string;
  /** Whether the installed definition has the same facts (schema, versions, names) as ours. */
  matches: boolean;
  /** What differs, as `-ours` / `+cluster` fact lines. */
  differences: string[];
  /** Whether the API server reports it Established. */
  established: boolean;
}

/** Compares each MCP gateway CRD in the cluster with the plugin's. */
export async function crdStatus(
  client: KubeClient,
  options: { signal?: AbortSignal } = {},
): Promise<CrdStatus[]> {
  const rows: CrdStatus[] = [];
  for (const crd of CRDS) {
    const name = crdName(crd);
    let installed: CrdObject | undefined;
    try {
      installed = await client.get<CrdObject>(CRD_RESOURCE, name, { signal: options.signal });
    } catch (error) {
      if (!(error instanceof KubeApiError && error.status === 404)) throw error;
    }
    if (!installed) {
      rows.push({
        name,
        installed: false,
        versions: "",
        matches: false,
        differences: [],
        established: false,
      });
      continue;
    }
    // The server returns keys in its own order; facts print values as JSON, so sort keys first.
    const ours = new Set(crdFacts(toCrdObject(crd) as Record<string, unknown>));
    const theirs = new Set(crdFacts(sortKeys(installed) as Record<string, unknown>));
    const differences = [
      ...[...ours].filter((fact) => !theirs.has(fact)).map((fact) => `-${fact}`),
      ...[...theirs].filter((fact) => !ours.has(fact)).map((fact) => `+${fact}`),
    ];
    const versions = (installed.spec?.versions ?? [])
      .filter((v) => v.served || v.storage)
      .map((v) =>
        `${v.name} (${[v.served ? "served" : "", v.storage ? "storage" : ""].filter(Boolean).join(", ")})`
      )
      .join(", ");
    const established = installed.status?.conditions?.some((c) =>
      c.type === "Established" && c.status === "True"
    ) ??
      false;
    rows.push({
      name,
      installed: true,
      versions,
      matches: differences.length === 0,
      differences,
      established,
    });
  }
  return rows;
}
