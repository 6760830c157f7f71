/**
 * Reading fields of Kubernetes objects given as plain JSON (parsed manifests, API answers), where any
 * field may be missing or of the wrong type.
 *
 * @module
 */

/** The Gateway API group (`gateway.networking.k8s.io`). */
export const GATEWAY_API = "gateway.networking.k8s.io";

/** A JSON object. */
export type Obj = Record<string, unknown>;

/** Whether `v` is a JSON object (not null, not an array). */
export const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** `v` when it is a non-empty string, else undefined. */
export const str = (v: unknown): string | undefined => typeof v === "string" && v !== "" ? v : undefined;

/** The API group of an `apiVersion` (`""` for the core group or a value that is not a string). */
export const groupOf = (apiVersion: unknown): string =>
  typeof apiVersion === "string" && apiVersion.includes("/") ? apiVersion.split("/")[0] : "";

/** An object's `namespace/name`, the namespace `default` when it has none. */
export function objectKey(object: Obj): string {
  const meta = isObj(object.metadata) ? object.metadata : {};
  return `${str(meta.namespace) ?? "default"}/${str(meta.name) ?? ""}`;
}
