/**
 * The rule about HTTPRoutes that select a virtual server with the `X-Mcp-Virtualserver` header: the
 * name they set must be an MCPVirtualServer's, or the broker serves the unfiltered list.
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import { GATEWAY_API_GROUP, GROUP, KIND_VIRTUAL_SERVER } from "../model/crds.ts";
import { type Entry, type Index, type Sink, str } from "./entries.ts";
import { isObject, valueAt } from "./path.ts";

/** The header that selects a virtual server (upstream's broker reads it case-insensitively). */
const VIRTUAL_SERVER_HEADER = "x-mcp-virtualserver";

/** One header a RequestHeaderModifier filter of a route sets or adds, with the path of its value. */
interface SetHeader {
  name: string;
  value: string;
  path: FieldPath;
}

/** The filter lists of a route: each rule's and each of its backendRefs'. */
function filterListPaths(route: Entry): FieldPath[] {
  const rules = valueAt(route.object, ["spec", "rules"]);
  if (!Array.isArray(rules)) return [];
  return rules.flatMap((rule, i): FieldPath[] => {
    if (!isObject(rule)) return [];
    const backendRefs = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
    return [
      ["spec", "rules", i, "filters"],
      ...backendRefs.map((_, j): FieldPath => ["spec", "rules", i, "backendRefs", j, "filters"]),
    ];
  });
}

/** Every header the route's RequestHeaderModifier filters set or add. */
function* setHeaders(route: Entry): Generator<SetHeader> {
  for (const listPath of filterListPaths(route)) {
    const filters = valueAt(route.object, listPath);
    if (!Array.isArray(filters)) continue;
    for (const [f, filter] of filters.entries()) {
      const modifier = isObject(filter) ? filter.requestHeaderModifier : undefined;
      if (!isObject(modifier)) continue;
      for (const op of ["set", "add"]) {
        const headers = modifier[op];
        if (!Array.isArray(headers)) continue;
        for (const [h, header] of headers.entries()) {
          if (!isObject(header)) continue;
          const path = [...listPath, f, "requestHeaderModifier", op, h, "value"];
          yield { name: str(header.name) ?? "", value: str(header.value) ?? "", path };
        }
      }
    }
  }
}

/**
 * HTTPRoutes that set the virtual-server header to a name that matches no MCPVirtualServer. The
 * broker then serves the unfiltered list, every tool, and tells the client nothing; only a cluster
 * read completely can show the name is missing, so this needs `--live`.
 */
export function virtualServerHeaderRules(index: Index, sink: Sink): void {
  for (const route of index.ofKind("HTTPRoute", GATEWAY_API_GROUP)) {
    for (const header of setHeaders(route)) {
      if (header.name.toLowerCase() !== VIRTUAL_SERVER_HEADER) continue;
      const parts = header.value.split("/");
      // The broker looks virtual servers up by `namespace/name` exactly.
      const wellFormed = parts.length === 2 && parts[0] !== "" && parts[1] !== "";
      if (wellFormed) {
        const [namespace, name] = parts;
        if (index.find(KIND_VIRTUAL_SERVER, namespace, name, GROUP)) continue;
        // Without a complete read of the cluster there, it may exist: only --live can tell.
        if (!index.known(KIND_VIRTUAL_SERVER, GROUP, namespace, name)) continue;
      }
      const why = wellFormed
        ? "names no MCPVirtualServer (neither among the files nor in the cluster)"
        : "is not NAMESPACE/NAME, so it names no MCPVirtualServer";
      sink.add(
        route,
        "warning",
        "ref.virtualserver-missing",
        `Header ${header.name}: ${header.value} ${why}; the gateway then serves the unfiltered list, every ` +
          `tool, to these requests`,
        header.path,
        { hint: "Give the namespace/name of an existing MCPVirtualServer (kubectl get mcpvs -A)." },
      );
    }
  }
}
