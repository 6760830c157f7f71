/**
 * Routing: from one JSON-RPC message and the current catalog, the `x-mcp-*` attributes (computed once
 * per request and shared by policy and router) and the upstream that owns the request.
 *
 * @module
 */
import { decodeResourceUri } from "./federation.ts";
import type { Catalog, ResourceRoutes } from "./federation.ts";
import { firstMatch } from "./uri_template.ts";

/** Attributes of one request, the same ones upstream's router sets as headers for AuthPolicy. */
export interface RequestAttributes {
  /** `x-mcp-method`: the JSON-RPC method. */
  method: string;
  /** The name the client used (prefixed tool or prompt, or the gateway resource URI). */
  requestedName?: string;
  /** `x-mcp-toolname`: the backend's own tool name. */
  toolName?: string;
  /** `x-mcp-promptname`: the backend's own prompt name. */
  promptName?: string;
  /** The backend's own resource URI, for `resources/read` and resource completions. */
  resourceUri?: string;
  /** `x-mcp-servername`: `ns/name` of the owning registration. */
  serverName?: string;
  /** `x-mcp-annotation-hints`: the tool's annotation hints, `readOnly=true,destructive=unspecified,...`. */
  annotationHints?: string;
  /** `ns/name` from `X-Mcp-Virtualserver`, when the client selected one. */
  virtualServer?: string;
  /**
   * Why no server was chosen for a resource URI that is not `mcp+` (with `federateAll`): one
   * sentence naming the servers that could own it, for the error the client gets.
   */
  unroutable?: string;
  /** What the policy added once it allowed the request (success headers, identity); set after policy. */
  granted?: { requestHeaders?: Record<string, string>; identity?: unknown };
}

/** Methods that go to one upstream; everything else the gateway answers itself. */
export const ROUTED_METHODS: ReadonlySet<string> = new Set([
  "tools/call",
  "prompts/get",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "completion/complete",
]);

/** Renders annotation hints the way upstream's router does: all four keys, unset ones `unspecified`. */
export function renderAnnotationHints(annotations: Record<string, unknown> | undefined): string {
  const one = (k: string) => {
    const v = annotations?.[`${k}Hint`];
    return `${k}=${typeof v === "boolean" ? String(v) : "unspecified"}`;
  };
  return ["readOnly", "destructive", "idempotent", "openWorld"].map(one).join(",");
}

/** The hints of a tool no catalog entry describes. */
const NO_HINTS = renderAnnotationHints(undefined);

/** Each catalog tool's rendered hints: the catalog changes per configuration, calls come per request. */
const renderedHints = new WeakMap<object, string>();

function hintsOf(tool: { annotations?: unknown }): string {
  let hints = renderedHints.get(tool);
  if (hints === undefined) {
    hints = renderAnnotationHints(tool.annotations as Record<string, unknown> | undefined);
    renderedHints.set(tool, hints);
  }
  return hints;
}

const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;

/**
 * The one server that can own `uri`, a resource URI the gateway did not issue: the only server with
 * resources, else the one server listing it exactly, else the one server with a template matching
 * it. Otherwise a sentence naming the candidates: the servers listing or matching it, or every
 * server with resources when none does.
 */
export function resourceOwner(routes: ResourceRoutes, uri: string): { server?: string; unroutable?: string } {
  if (routes.servers.length === 1) return { server: routes.servers[0] };
  const exact = routes.exact.get(uri) ?? [];
  if (exact.length === 1) return { server: exact[0] };
  const list = (servers: string[]) => [...servers].sort().join(", ");
  if (exact.length > 1) {
    return {
      unroutable: `Resource ${uri} is listed by more than one server (${list(exact)}): read it by the ` +
        "mcp+ URI resources/list gives for the one you mean (servers without a prefix have none).",
    };
  }
  // Each round leaves out the servers already matched, so a match costs at most one budget per server.
  const matched: string[] = [];
  let rest = routes.templates;
  for (let hit = firstMatch(rest, uri); hit; hit = firstMatch(rest, uri)) {
    matched.push(hit.server);
    rest = rest.filter((t) => t.server !== hit!.server);
  }
  if (matched.length === 1) return { server: matched[0] };
  if (matched.length > 1) {
    return {
      unroutable: `Resource ${uri} matches URI templates of more than one server (${list(matched)}): ` +
        "read it by the mcp+ URI resources/list gives for the one you mean.",
    };
  }
  if (!routes.servers.length) return {};
  return {
    unroutable: `Resource ${uri} was not issued by this gateway and no server lists it or has a URI ` +
      `template for it; the servers with resources are ${list(routes.servers)}.`,
  };
}

/**
 * Computes the attributes of a request. `serverByKey` maps resource URI keys to server names. An
 * unknown name leaves `serverName` unset; the handler then answers with the right error.
 */
export function computeAttributes(
  method: string,
  params: unknown,
  catalog: Catalog,
  serverByKey: Map<string, string>,
  virtualServer?: string,
): RequestAttributes {
  const attrs: RequestAttributes = { method, ...(virtualServer ? { virtualServer } : {}) };
  const p = record(params) ?? {};
  const resource = (uri: unknown) => {
    if (typeof uri !== "string") return;
    attrs.requestedName = uri;
    const d = decodeResourceUri(uri);
    const server = d && serverByKey.get(d.key);
    if (d && server) {
      attrs.serverName = server;
      attrs.resourceUri = d.uri;
      return;
    }
    if (!catalog.resourceRoutes || d) return;
    const owner = resourceOwner(catalog.resourceRoutes, uri);
    if (owner.server) {
      attrs.serverName = owner.server;
      attrs.resourceUri = uri;
    } else if (owner.unroutable) attrs.unroutable = owner.unroutable;
  };
  const prompt = (name: unknown) => {
    if (typeof name !== "string") return;
    attrs.requestedName = name;
    const entry = catalog.prompts.get(name);
    if (entry) {
      attrs.serverName = entry.server;
      attrs.promptName = entry.backendName;
    }
  };
  switch (method) {
    case "tools/call": {
      const name = p.name;
      if (typeof name !== "string") break;
      attrs.requestedName = name;
      const entry = catalog.tools.get(name);
      if (entry) {
        attrs.serverName = entry.server;
        attrs.toolName = entry.backendName;
        attrs.annotationHints = hintsOf(entry.tool);
        break;
      }
      const route = catalog.prefixRoutes?.find((r) =>
        name.length > r.prefix.length && name.startsWith(r.prefix)
      );
      if (route) {
        attrs.serverName = route.server;
        attrs.toolName = name.slice(route.prefix.length);
        attrs.annotationHints = NO_HINTS;
      }
      break;
    }
    case "prompts/get":
      prompt(p.name);
      break;
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      resource(p.uri);
      break;
    case "completion/complete": {
      const ref = record(p.ref);
      if (ref?.type === "ref/prompt") prompt(ref.name);
      else if (ref?.type === "ref/resource") resource(ref.uri);
      break;
    }
  }
  return attrs;
}

/** The attributes as the `x-mcp-*` headers upstream's router would set. */
export function attributeHeaders(attrs: RequestAttributes): Record<string, string> {
  const h: Record<string, string> = { "x-mcp-method": attrs.method };
  if (attrs.toolName) h["x-mcp-toolname"] = attrs.toolName;
  if (attrs.promptName) h["x-mcp-promptname"] = attrs.promptName;
  if (attrs.serverName) h["x-mcp-servername"] = attrs.serverName;
  if (attrs.annotationHints) h["x-mcp-annotation-hints"] = attrs.annotationHints;
  return h;
}

/** Rewrites the params of a routed request into what the owning backend expects. */
export function backendParams(
  attrs: RequestAttributes,
  params: Record<string, unknown>,
): Record<string, unknown> {
  switch (attrs.method) {
    case "tools/call":
      return { ...params, name: attrs.toolName };
    case "prompts/get":
      return { ...params, name: attrs.promptName };
    case "resources/read":
    case "resources/subscribe":
    case "resources/unsubscribe":
      return { ...params, uri: attrs.resourceUri };
    case "completion/complete": {
      const ref = record(params.ref) ?? {};
      return {
        ...params,
        ref: ref.type === "ref/prompt"
          ? { ...ref, name: attrs.promptName }
          : { ...ref, uri: attrs.resourceUri },
      };
    }
  }
  return params;
}
