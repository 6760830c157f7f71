/**
 * Server-side apply as `kubectl apply --server-side` does it: a PATCH with
 * `application/apply-patch+yaml`, a field manager (`kubectl-mcp` unless told otherwise), optional
 * `force` to take over conflicting fields, strict field validation, and client or server dry runs.
 *
 * @module
 */

import { InputError, UsageError } from "../errors.ts";
import { DEFAULT_FIELD_MANAGER, type KubeClient, type KubeObject, type ResourceInfo } from "./client.ts";

/** `--dry-run` values. */
export type DryRun = "none" | "client" | "server";

/** Options of {@link applyObject}. */
export interface ApplyOptions {
  /** Field manager recorded in managedFields (default `kubectl-mcp`). */
  fieldManager?: string;
  /** Take ownership of fields another manager owns (`--force-conflicts`). */
  force?: boolean;
  /** `client` sends nothing; `server` asks the server to run everything but persist (`dryRun=All`). */
  dryRun?: DryRun;
  /** `-n`: the namespace objects without one go to; objects naming another one are an error. */
  namespace?: string;
  /** Whether `namespace` was given on the command line (kubectl then rejects mismatches). */
  namespaceExplicit?: boolean;
  /** Abort signal. */
  signal?: AbortSignal;
}

/** The outcome of applying one object. */
export interface ApplyResult {
  /** The object as the server returned it (or as it would be sent, for client dry runs). */
  object: KubeObject;
  /** Its resource type. */
  resource: ResourceInfo;
  /** The dry-run mode used. */
  dryRun: DryRun;
}

/** Applies one object with server-side apply and returns what the server stored. */
export async function applyObject(
  client: KubeClient,
  object: KubeObject,
  options: ApplyOptions = {},
): Promise<ApplyResult> {
  const { apiVersion, kind } = object;
  const name = object.metadata?.name;
  if (!apiVersion || !kind) throw new InputError("an object to apply needs apiVersion and kind");
  if (!name) {
    throw new InputError(`the ${kind} to apply has no metadata.name (server-side apply needs a name)`);
  }
  const resource = await client.resourceFor(apiVersion, kind);
  const body: KubeObject = structuredClone(object);
  let namespace: string | undefined;
  if (resource.namespaced) {
    const own = body.metadata?.namespace;
    const requested = options.namespace ?? client.namespace;
    if (own && options.namespaceExplicit && options.namespace && own !== options.namespace) {
      throw new UsageError(
        `the namespace from the provided object "${own}" does not match the namespace "${options.namespace}". You must pass '--namespace=${own}' to perform this operation.`,
      );
    }
    namespace = own ?? requested;
    body.metadata = { ...body.metadata, namespace };
  } else if (body.metadata?.namespace) {
    body.metadata = { ...body.metadata };
    delete body.metadata.namespace;
  }
  const dryRun = options.dryRun ?? "none";
  if (dryRun === "client") return { object: body, resource, dryRun };
  const stored = await client.json<KubeObject>("PATCH", client.path(resource, { namespace, name }), {
    query: {
      fieldManager: options.fieldManager ?? DEFAULT_FIELD_MANAGER,
      force: options.force ? true : undefined,
      fieldValidation: "Strict",
      dryRun: dryRun === "server" ? "All" : undefined,
    },
    body: JSON.stringify(body),
    contentType: "application/apply-patch+yaml",
    signal: options.signal,
    context: { verb: "patch", resource, namespace, name },
  });
  return { object: stored, resource, dryRun };
}

/** kubectl's line for an applied object: `mcpserverregistration.mcp.kuadrant.io/github serverside-applied`. */
export function describeApplied(result: ApplyResult): string {
  const { resource, object } = result;
  const kind = resource.kind.toLowerCase();
  const type = resource.group ? `${kind}.${resource.group}` : kind;
  const suffix = result.dryRun === "client"
    ? " (dry run)"
    : result.dryRun === "server"
    ? " (server dry run)"
    : "";
  return `${type}/${object.metadata?.name} serverside-applied${suffix}`;
}

/** The field managers of an object, in managedFields order, e.g. `["kubectl-mcp", "other"]`. */
export function fieldManagers(object: KubeObject): string[] {
  return [...new Set((object.metadata?.managedFields ?? []).map((entry) => entry.manager ?? ""))];
}
