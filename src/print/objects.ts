/**
 * `-o json`, `-o yaml` and `-o name` for Kubernetes objects, matching kubectl: one object prints
 * alone, several print as a `List`; JSON is indented by four spaces; names are `kind.group/name`.
 *
 * @module
 */

import { stringify } from "yaml";

/** The parts of a Kubernetes object the printers read. */
export interface KubeObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string };
}

/** Wraps several objects as kubectl does for `-o json|yaml`. */
function asList(objects: readonly unknown[]): unknown {
  return { apiVersion: "v1", items: objects, kind: "List", metadata: { resourceVersion: "" } };
}

/** kubectl's `-o json`: a single object as is, several as a List. */
export function formatJson(objects: readonly unknown[], options: { list?: boolean } = {}): string {
  const value = objects.length === 1 && !options.list ? objects[0] : asList(objects);
  return JSON.stringify(value, null, 4) + "\n";
}

/** kubectl's `-o yaml`: a single object as is, several as a List. */
export function formatYaml(objects: readonly unknown[], options: { list?: boolean } = {}): string {
  const value = objects.length === 1 && !options.list ? objects[0] : asList(objects);
  return stringify(value, { lineWidth: 0, aliasDuplicateObjects: false });
}

/** Several objects as a multi-document YAML stream (`---` between), for manifests meant to be applied. */
export function formatYamlDocuments(objects: readonly unknown[]): string {
  return objects.map((object) => stringify(object, { lineWidth: 0, aliasDuplicateObjects: false })).join(
    "---\n",
  );
}

/** kubectl's `-o name`: `kind.group/name`, the group left out for the core group. */
export function formatName(object: KubeObjectLike): string {
  const kind = (object.kind ?? "").toLowerCase();
  const apiVersion = object.apiVersion ?? "";
  const group = apiVersion.includes("/") ? apiVersion.split("/")[0] : "";
  return `${group ? `${kind}.${group}` : kind}/${object.metadata?.name ?? ""}`;
}
