/**
 * Defects of the cluster's broker (Kuadrant mcp-gateway v0.9.0) that manifests can trigger. The
 * simulator does not copy them; `validate` and the replay verbs warn about them with the same words.
 *
 * @module
 */

import { GROUP, KIND_SERVER_REGISTRATION } from "../model/crds.ts";
import type { Index, Sink } from "./entries.ts";
import { valueAt } from "./path.ts";

/**
 * What the cluster does when two servers on one gateway serve the same tool name (broker v0.9.0,
 * upstream/manager.go): a race, not the registration order.
 */
export const CONFLICT_RACE =
  "in the cluster the winner depends on which server answers first: broker v0.9.0 " +
  "keeps the tools of the server whose list arrives first and withholds all tools of the other (its prompts " +
  "stay)";

/** Finding code of a registration with `spec.tags`, which makes broker v0.9.0 hang. */
export const TAGS_HANG = "broker.tags-hang";

/** How to avoid the hang. */
export const TAGS_HANG_HINT =
  "Leave spec.tags out of every registration on a gateway that runs broker v0.9.0; " +
  "list_tags and filter_tools_by_tags are lost, everything else works.";

/**
 * The warning about registration `name` (`namespace/name`) carrying tags: broker v0.9.0 then takes a
 * lock it never releases (startManagers -> registerTagsTools -> AddTools -> onTableChange).
 */
export function tagsHangMessage(name: string): string {
  return `MCPServerRegistration ${name} sets "spec.tags", which makes the cluster's broker v0.9.0 hang: ` +
    "tools/list, resources/list, every tools/call, /status and /readyz never answer, and it ignores " +
    "SIGTERM (any registration with tags does this to the whole gateway)";
}

/** Registrations (`namespace/name` and spec) that would hang broker v0.9.0, as warning messages. */
export function brokerDefectWarnings(
  registrations: readonly { name: string; spec: unknown }[],
): { code: string; message: string; hint: string }[] {
  return registrations.filter(({ spec }) => hasTags(spec)).map(({ name }) => ({
    code: TAGS_HANG,
    message: tagsHangMessage(name),
    hint: TAGS_HANG_HINT,
  }));
}

/** Whether a registration spec carries at least one tag (broker v0.9.0 checks `len(tags) > 0`). */
export function hasTags(spec: unknown): boolean {
  const tags = typeof spec === "object" && spec !== null ? (spec as { tags?: unknown }).tags : undefined;
  return Array.isArray(tags) && tags.length > 0;
}

/**
 * Manifests that trigger a defect of the cluster's broker v0.9.0. The simulator serves them anyway,
 * so only `validate` (and the replay's start-up warnings) can say what the cluster will do.
 */
export function brokerDefectRules(index: Index, sink: Sink): void {
  for (const registration of index.ofKind(KIND_SERVER_REGISTRATION, GROUP)) {
    // Objects the API server rejects never reach the broker.
    if (!registration.valid || !hasTags(valueAt(registration.defaulted, ["spec"]))) continue;
    sink.add(
      registration,
      "warning",
      TAGS_HANG,
      tagsHangMessage(`${registration.namespace}/${registration.name}`),
      ["spec", "tags"],
      { atKey: true, hint: TAGS_HANG_HINT },
    );
  }
}
