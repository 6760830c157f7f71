/**
 * The federated catalog: the union of every healthy upstream's tools, prompts, resources and resource
 * templates, with prefixes applied, conflicts found and invalid tools filtered. The catalog is a pure
 * function of the config order and what each server last listed, so rebuilding it after any change
 * gives the same answer every time.
 *
 * Resource URIs of a server with a prefix are rewritten reversibly as `mcp+<serverkey>:<original-uri>`,
 * where `serverkey` is the
 * registration name lowercased with `/` turned into `.` (a Kubernetes namespace has no dots, so
 * `ns/name` stays unique) and any other character outside `[a-z0-9.-]` turned into `-`; a clash gets
 * `-2`, `-3`... The key has no `:`, so decoding splits at the first `:` after `mcp+` and looks the key
 * up: every resource of every such server can be read back. A server with an empty prefix is served
 * as-is, like its tools: its URIs stay unchanged and reads are routed by exact URI, then by matching
 * its URI templates, first registered server first (so the gateway stays transparent to clients, and
 * the conformance suite passes through it).
 *
 * Conflicts follow upstream's broker: servers are taken in config order and a server whose tools (or
 * prompts) would reuse a name already served by an earlier server has all its tools (or prompts)
 * withheld; the conflict is reported, never silently shadowed.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { InvalidToolPolicy } from "./config.ts";
import { UriTemplate } from "./uri_template.ts";

/** What one upstream last listed. */
export interface ServerListing {
  /** `ns/name` of the registration. */
  name: string;
  prefix: string;
  tools: Tool[];
  prompts: Prompt[];
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
}

/** A tool served by the gateway and where it comes from. */
export interface FederatedTool {
  server: string;
  /** The backend's own tool name. */
  backendName: string;
  tool: Tool;
}

/** A prompt served by the gateway and where it comes from. */
export interface FederatedPrompt {
  server: string;
  backendName: string;
  prompt: Prompt;
}

/** A name two servers both want to serve. */
export interface Conflict {
  kind: "tool" | "prompt";
  /** The name as served (prefix included). */
  name: string;
  /** Server that keeps serving the name (registered first). */
  server: string;
  /** Server whose tools or prompts are withheld because of the clash. */
  conflictsWith: string;
}

/** A tool dropped for an invalid schema. */
export interface InvalidTool {
  server: string;
  name: string;
  errors: string[];
}

/** The federated view served to clients. */
export interface Catalog {
  tools: Map<string, FederatedTool>;
  prompts: Map<string, FederatedPrompt>;
  resources: Resource[];
  resourceTemplates: ResourceTemplate[];
  conflicts: Conflict[];
  invalidTools: InvalidTool[];
  /** Servers dropped whole by `RejectServer`. */
  rejectedServers: string[];
  /** Unrewritten resource URIs of prefix-less servers, to their server (first registered wins). */
  plainResources: Map<string, string>;
  /** URI templates of prefix-less servers, compiled, in registration order (see `firstMatch`). */
  plainTemplates: Array<{ template: UriTemplate; server: string }>;
  /**
   * Servers whose tools are listed per client (`userSpecificList`), longest prefix first: a
   * `tools/call` no listed tool matches goes to the one whose prefix it starts with.
   */
  prefixRoutes?: Array<{ prefix: string; server: string }>;
}

const SCHEMA_TYPES = new Set(["string", "number", "integer", "boolean", "array", "object", "null"]);

/** Errors that make a tool unusable, following upstream's checks; empty when the tool is fine. */
export function validateTool(tool: Tool): string[] {
  const errors: string[] = [];
  if (!tool.name) errors.push("name must not be empty");
  const check = (where: string, schema: unknown, required: boolean) => {
    if (schema === undefined || schema === null) {
      if (required) errors.push(`${where} is required`);
      return;
    }
    if (typeof schema !== "object" || Array.isArray(schema)) {
      errors.push(`${where} must be a JSON object`);
      return;
    }
    const s = schema as Record<string, unknown>;
    if (s.type !== "object") errors.push(`${where}.type must be "object", got ${JSON.stringify(s.type)}`);
    const props = s.properties;
    if (props === undefined) return;
    if (typeof props !== "object" || props === null || Array.isArray(props)) {
      errors.push(`${where}.properties must be an object`);
      return;
    }
    for (const [name, prop] of Object.entries(props)) {
      if (typeof prop !== "object" || prop === null || Array.isArray(prop)) {
        errors.push(`${where}.properties[${JSON.stringify(name)}] must be an object`);
        continue;
      }
      const t = (prop as Record<string, unknown>).type;
      if (t === undefined) continue;
      const types = Array.isArray(t) ? t : [t];
      for (const one of types) {
        if (typeof one !== "string" || !SCHEMA_TYPES.has(one)) {
          errors.push(
            `${where}.properties[${JSON.stringify(name)}].type ${
              JSON.stringify(one)
            } is not a JSON Schema type`,
          );
        }
      }
    }
  };
  check("inputSchema", tool.inputSchema, true);
  if (tool.outputSchema !== undefined) check("outputSchema", tool.outputSchema, false);
  return errors;
}

/** Turns server names into the resource URI keys described in the module doc. */
export function serverKeys(names: string[]): Map<string, string> {
  const byName = new Map<string, string>();
  const used = new Set<string>();
  for (const name of names) {
    const base = name.toLowerCase().replace("/", ".").replace(/[^a-z0-9.-]/g, "-") || "server";
    let key = base;
    for (let i = 2; used.has(key); i++) key = `${base}-${i}`;
    used.add(key);
    byName.set(name, key);
  }
  return byName;
}

/** The URI a client sees for `uri` of the server with key `key`. */
export function encodeResourceUri(key: string, uri: string): string {
  return `mcp+${key}:${uri}`;
}

/**
 * Rewrites, in place, the resource URIs a `tools/call` result of a prefixed server hands the client,
 * so each can be read back through the gateway like the ones `resources/list` shows: resource links,
 * embedded resources and the MCP Apps `_meta.ui.resourceUri`. True when anything changed.
 */
export function rewriteResultUris(result: unknown, key: string): boolean {
  const obj = (v: unknown): Record<string, unknown> | undefined =>
    typeof v === "object" && v !== null && !Array.isArray(v) ? v as Record<string, unknown> : undefined;
  const r = obj(result);
  if (!r) return false;
  let changed = false;
  const encode = (holder: Record<string, unknown> | undefined, field: string) => {
    const uri = holder?.[field];
    if (typeof uri !== "string" || uri.startsWith("mcp+")) return;
    holder![field] = encodeResourceUri(key, uri);
    changed = true;
  };
  if (Array.isArray(r.content)) {
    for (const item of r.content) {
      const c = obj(item);
      if (c?.type === "resource_link") encode(c, "uri");
      else if (c?.type === "resource") encode(obj(c.resource), "uri");
    }
  }
  encode(obj(obj(r._meta)?.ui), "resourceUri");
  return changed;
}

/** Splits a gateway resource URI into server key and the backend's URI; undefined when not ours. */
export function decodeResourceUri(uri: string): { key: string; uri: string } | undefined {
  if (!uri.startsWith("mcp+")) return undefined;
  const colon = uri.indexOf(":", 4);
  if (colon <= 4) return undefined;
  return { key: uri.slice(4, colon), uri: uri.slice(colon + 1) };
}

/**
 * Builds the catalog from listings given in config order. `keys` comes from `serverKeys` over all
 * configured servers so a resource URI stays stable while other servers come and go. `reserved`
 * maps tool names the gateway serves itself (its meta-tools) to the owner conflicts name; a server
 * whose tool would take one of them has its tools withheld, as for any other clash.
 */
export function buildCatalog(
  listings: ServerListing[],
  keys: Map<string, string>,
  policy: InvalidToolPolicy,
  reserved: ReadonlyMap<string, string> = new Map(),
): Catalog {
  const cat: Catalog = {
    tools: new Map(),
    prompts: new Map(),
    resources: [],
    resourceTemplates: [],
    conflicts: [],
    invalidTools: [],
    rejectedServers: [],
    plainResources: new Map(),
    plainTemplates: [],
  };
  for (const l of listings) {
    const invalid: InvalidTool[] = [];
    const valid: Tool[] = [];
    for (const t of l.tools) {
      const errors = validateTool(t);
      if (errors.length) invalid.push({ server: l.name, name: t.name, errors });
      else valid.push(t);
    }
    cat.invalidTools.push(...invalid);
    if (invalid.length && policy === "RejectServer") {
      cat.rejectedServers.push(l.name);
      continue;
    }

    const toolClashes = valid
      .map((t) => l.prefix + t.name)
      .filter((n) => cat.tools.has(n) || reserved.has(n))
      .map((n): Conflict => ({
        kind: "tool",
        name: n,
        server: reserved.get(n) ?? cat.tools.get(n)!.server,
        conflictsWith: l.name,
      }));
    if (toolClashes.length) cat.conflicts.push(...toolClashes);
    else {
      for (const t of valid) {
        const name = l.prefix + t.name;
        cat.tools.set(name, { server: l.name, backendName: t.name, tool: { ...t, name } });
      }
    }

    const promptClashes = l.prompts
      .filter((p) => p.name)
      .map((p) => l.prefix + p.name)
      .filter((n) => cat.prompts.has(n))
      .map((n): Conflict => ({
        kind: "prompt",
        name: n,
        server: cat.prompts.get(n)!.server,
        conflictsWith: l.name,
      }));
    if (promptClashes.length) cat.conflicts.push(...promptClashes);
    else {
      for (const p of l.prompts) {
        if (!p.name) continue;
        const name = l.prefix + p.name;
        cat.prompts.set(name, { server: l.name, backendName: p.name, prompt: { ...p, name } });
      }
    }

    if (l.prefix === "") {
      for (const r of l.resources) {
        if (cat.plainResources.has(r.uri)) continue;
        cat.plainResources.set(r.uri, l.name);
        cat.resources.push(r);
      }
      for (const r of l.resourceTemplates) {
        cat.plainTemplates.push({ template: new UriTemplate(r.uriTemplate), server: l.name });
        cat.resourceTemplates.push(r);
      }
      continue;
    }
    const key = keys.get(l.name)!;
    for (const r of l.resources) cat.resources.push({ ...r, uri: encodeResourceUri(key, r.uri) });
    for (const r of l.resourceTemplates) {
      cat.resourceTemplates.push({ ...r, uriTemplate: encodeResourceUri(key, r.uriTemplate) });
    }
  }
  return cat;
}
