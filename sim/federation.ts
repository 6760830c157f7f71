/**
 * The federated catalog: the union of every healthy upstream's tools, prompts, resources and resource
 * templates, with prefixes applied, conflicts found and invalid tools filtered. The catalog is a pure
 * function of the listings in the order given (the order their lists first arrived, see
 * `ServerSet`), so rebuilding it after any change gives the same answer every time.
 *
 * By default the catalog is what broker v0.9.0 serves (README, "Differences from the cluster"):
 * - Tools carry the fields of the broker's Go SDK `Tool` and nothing else (an upstream's `_meta` and
 *   `execution` are dropped), and always `annotations`: the upstream's as sent, `{}` when it sent none.
 * - `resources/list` is the concatenation of every prefixed server's resources, not de-duplicated.
 *   URIs stay as the server gives them except `ui://` ones, which get the prefix in their authority
 *   (`ui://forecast.html` of prefix `weather_` -> `ui://weather_forecast.html`; a `_` is added to a
 *   prefix without one; userinfo is dropped). A server without a prefix, or with one the broker
 *   refuses to put in a URI, lists no resources. No templates, and no resource is routed.
 *
 * With `federateAll`, what the simulator serves beyond the cluster: tools keep every field, and
 * resource URIs of a server with a prefix are rewritten reversibly as
 * `mcp+<serverkey>:<original-uri>`, where `serverkey` is the
 * registration name lowercased with `/` turned into `.` (a Kubernetes namespace has no dots, so
 * `ns/name` stays unique) and any other character outside `[a-z0-9.-]` turned into `-`; a clash gets
 * `-2`, `-3`... The key has no `:`, so decoding splits at the first `:` after `mcp+` and looks the key
 * up: every resource of every such server can be read back. A server with an empty prefix is served
 * as-is, like its tools: its URIs stay unchanged (so the gateway stays transparent to clients, and
 * the conformance suite passes through it). A URI without `mcp+` (such a server's, or one a client
 * has from elsewhere) goes to the one server that can own it (`ResourceRoutes`, `routing.ts`).
 *
 * Conflicts follow upstream's broker: servers are taken in the order their lists arrived and a server
 * whose tools (or prompts) would reuse a name already served by an earlier server has all its tools
 * (or prompts) withheld; the conflict is reported, never silently shadowed. Tools and prompts are
 * judged apart: a server whose tools are withheld still serves its prompts.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { Prompt, Resource, ResourceTemplate, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { InvalidToolPolicy } from "./config.ts";
import { sameItems } from "./list_answers.ts";
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
  /** Server that keeps serving the name: its list arrived first (`broker` for a meta-tool's name). */
  server: string;
  /** Server whose tools (or prompts) are all withheld because of the clash. */
  conflictsWith: string;
  /** One sentence for people: who keeps what, what is withheld, and how the cluster decides. */
  message: string;
}

/** The servers' own resource URIs and templates, for routing a URI that is not `mcp+` (`routing.ts`). */
export interface ResourceRoutes {
  /**
   * Servers that list resources or templates (every served server when none does), in the order
   * their lists arrived: a URI nothing else places goes to the only one.
   */
  servers: string[];
  /** Each URI and URI template as a server lists it, to the servers listing it. */
  exact: Map<string, string[]>;
  /** Every server's URI templates, compiled, in the order their lists arrived (see `firstMatch`). */
  templates: Array<{ template: UriTemplate; server: string }>;
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
  /** What `resources/list` serves, in the mode the catalog was built for (see the module doc). */
  resources: Resource[];
  /** What `resources/templates/list` serves with `federateAll`; empty otherwise. */
  resourceTemplates: ResourceTemplate[];
  conflicts: Conflict[];
  invalidTools: InvalidTool[];
  /** Servers whose tools `RejectServer` withdrew (their prompts and resources stay, as upstream). */
  rejectedServers: string[];
  /**
   * With `federateAll`, where a resource URI the gateway did not issue (no `mcp+`) may go; undefined
   * by default, where no resource is routed.
   */
  resourceRoutes?: ResourceRoutes;
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

/** Options of `buildCatalog`. */
export interface CatalogOptions {
  /** Serve what the cluster's broker does not (see `GatewayOptions.federateAll`); default false. */
  federateAll?: boolean;
}

/** What the cluster tells about a clash between two servers, for people reading a conflict. */
export const CLUSTER_CONFLICT_NOTE =
  "In the cluster the winner depends on which server answers first, so it can change when the broker restarts.";

/** The sentence a conflict carries (see `Conflict.message`). */
export function conflictMessage(c: Omit<Conflict, "message">, reservedOwner = false): string {
  if (reservedOwner) {
    return `Tool ${c.name} of server ${c.conflictsWith} has the name of a gateway meta-tool; ` +
      `every tool of ${c.conflictsWith} is withheld (its prompts are still served).`;
  }
  const what = c.kind === "tool" ? "tool" : "prompt";
  const other = c.kind === "tool" ? "its prompts are still served" : "its tools are still served";
  return `${c.kind === "tool" ? "Tool" : "Prompt"} ${c.name} of server ${c.conflictsWith} conflicts with ` +
    `server ${c.server}, whose ${what} list arrived first; every ${what} of ${c.conflictsWith} is withheld ` +
    `(${other}). ${CLUSTER_CONFLICT_NOTE}`;
}

/**
 * Tool fields broker v0.9.0 serves: those of its Go SDK's `Tool`. It replaces an upstream's `_meta`
 * with its own (then strips it) and its SDK drops what it does not know, such as `execution`.
 */
const BROKER_TOOL_FIELDS = ["title", "description", "inputSchema", "outputSchema", "icons"] as const;

/**
 * A server's tool as the gateway serves it under `name`: always with `annotations` (`{}` when the
 * server sent none, as the broker), and by default only the broker's fields (`BROKER_TOOL_FIELDS`).
 */
export function servedTool(tool: Tool, name: string, federateAll: boolean): Tool {
  const annotations = tool.annotations ?? {};
  if (federateAll) return { ...tool, name, annotations };
  const out: Record<string, unknown> = { name, annotations };
  for (const field of BROKER_TOOL_FIELDS) {
    const value = tool[field];
    // Go's omitempty: an empty string or list is left out as if absent.
    if (value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length)) {
      continue;
    }
    out[field] = value;
  }
  return out as Tool;
}

/**
 * Prefixes broker v0.9.0 accepts in a `ui://` authority (the CRD's pattern, checked again); a server
 * with another prefix lists no resources.
 */
export const UI_PREFIX_PATTERN = /^[a-z0-9][a-z0-9_]*$/;

/**
 * A resource URI as broker v0.9.0 lists it for a server with `prefix` (broker.go:958-980): a `ui://`
 * URI gets `<prefix>_` (the `_` only when the prefix lacks it) in front of its host and loses its
 * userinfo; path, query and fragment stay. Any other URI, and one Go's URL parser refuses (a control
 * character, a character or escape a host may not have, a bad `%` escape, a port that is not a
 * number), is unchanged. Unlike Go, a path or fragment is kept as written where Go would re-escape
 * a character (a space becomes `%20` there).
 */
export function prefixUiUri(uri: string, prefix: string): string {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(uri);
  if (!scheme || scheme[1].toLowerCase() !== "ui" || !prefix) return uri;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(uri)) return uri;
  const separated = prefix.endsWith("_") ? prefix : `${prefix}_`;
  const rest = uri.slice(scheme[0].length);
  const badEscape = (text: string) => /%(?![0-9A-Fa-f]{2})/.test(text);
  if (!rest.startsWith("//")) {
    // No authority: Go writes the new host in front of the path; `ui:x` is opaque and left alone.
    if (rest && !rest.startsWith("/")) return uri;
    return badEscape(rest) ? uri : `ui://${separated}${rest}`;
  }
  const end = rest.slice(2).search(/[/?#]/);
  const authority = end < 0 ? rest.slice(2) : rest.slice(2, 2 + end);
  const tail = end < 0 ? "" : rest.slice(2 + end);
  const host = authority.slice(authority.lastIndexOf("@") + 1);
  // Go splits the fragment off first, then the query; only path and fragment are unescaped.
  const hash = tail.indexOf("#");
  const beforeFragment = hash < 0 ? tail : tail.slice(0, hash);
  const path = beforeFragment.split("?")[0];
  const fragment = hash < 0 ? "" : tail.slice(hash + 1);
  if (!validHost(host) || badEscape(path) || badEscape(fragment)) return uri;
  return `ui://${separated}${host}${tail}`;
}

/** Whether Go's `net/url` accepts `host` (with its optional port) in a URL's authority. */
function validHost(host: string): boolean {
  const port = /:([^\]:]*)$/.exec(host);
  if (port && !/^\d*$/.test(port[1])) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 0x80 || /[A-Za-z0-9\-_.~!$&'()*+,;=:[\]<>"]/.test(host[i])) continue;
    // An escape in a host must be %25 or one of a non-ASCII byte.
    const hex = host.slice(i + 1, i + 3);
    if (host[i] !== "%" || !/^[0-9A-Fa-f]{2}$/.test(hex) || (parseInt(hex, 16) < 0x80 && hex !== "25")) {
      return false;
    }
    i += 2;
  }
  return true;
}

/**
 * Builds the catalog from listings given in the order their lists first arrived (that order decides
 * conflicts). `keys` comes from `serverKeys` over all configured servers so a resource URI stays
 * stable while other servers come and go. `reserved` maps tool names the gateway serves itself (its
 * meta-tools) to the owner conflicts name; a server whose tool would take one of them has its tools
 * withheld, as for any other clash.
 */
export function buildCatalog(
  listings: ServerListing[],
  keys: Map<string, string>,
  policy: InvalidToolPolicy,
  reserved: ReadonlyMap<string, string> = new Map(),
  options: CatalogOptions = {},
): Catalog {
  const federateAll = options.federateAll ?? false;
  const cat: Catalog = {
    tools: new Map(),
    prompts: new Map(),
    resources: [],
    resourceTemplates: [],
    conflicts: [],
    invalidTools: [],
    rejectedServers: [],
  };
  const routes: ResourceRoutes = { servers: [], exact: new Map(), templates: [] };
  const own = (uri: string, server: string) => {
    const servers = routes.exact.get(uri) ?? [];
    if (!servers.includes(server)) servers.push(server);
    routes.exact.set(uri, servers);
  };
  // Prefix-less servers' URIs are listed once: the first server listing one is the one shown.
  const listedAsIs = new Set<string>();
  for (const l of listings) {
    const invalid: InvalidTool[] = [];
    const valid: Tool[] = [];
    for (const t of l.tools) {
      const errors = validateTool(t);
      if (errors.length) invalid.push({ server: l.name, name: t.name, errors });
      else valid.push(t);
    }
    cat.invalidTools.push(...invalid);
    // As the broker: RejectServer withdraws the server's tools; its prompts and resources stay.
    const rejected = invalid.length > 0 && policy === "RejectServer";
    if (rejected) cat.rejectedServers.push(l.name);

    const toolClashes = (rejected ? [] : valid)
      .map((t) => l.prefix + t.name)
      .filter((n) => cat.tools.has(n) || reserved.has(n))
      .map((n): Conflict => {
        const owner = reserved.get(n);
        const c = {
          kind: "tool" as const,
          name: n,
          server: owner ?? cat.tools.get(n)!.server,
          conflictsWith: l.name,
        };
        return { ...c, message: conflictMessage(c, owner !== undefined) };
      });
    if (toolClashes.length) cat.conflicts.push(...toolClashes);
    else if (!rejected) {
      for (const t of valid) {
        const name = l.prefix + t.name;
        cat.tools.set(name, { server: l.name, backendName: t.name, tool: servedTool(t, name, federateAll) });
      }
    }

    const promptClashes = l.prompts
      .filter((p) => p.name)
      .map((p) => l.prefix + p.name)
      .filter((n) => cat.prompts.has(n))
      .map((n): Conflict => {
        const c = {
          kind: "prompt" as const,
          name: n,
          server: cat.prompts.get(n)!.server,
          conflictsWith: l.name,
        };
        return { ...c, message: conflictMessage(c) };
      });
    if (promptClashes.length) cat.conflicts.push(...promptClashes);
    else {
      for (const p of l.prompts) {
        if (!p.name) continue;
        const name = l.prefix + p.name;
        cat.prompts.set(name, { server: l.name, backendName: p.name, prompt: { ...p, name } });
      }
    }

    if (!federateAll) {
      if (!l.prefix || !UI_PREFIX_PATTERN.test(l.prefix)) continue;
      for (const r of l.resources) cat.resources.push({ ...r, uri: prefixUiUri(r.uri, l.prefix) });
      continue;
    }
    if (l.resources.length || l.resourceTemplates.length) routes.servers.push(l.name);
    for (const r of l.resources) own(r.uri, l.name);
    for (const r of l.resourceTemplates) {
      own(r.uriTemplate, l.name);
      routes.templates.push({ template: new UriTemplate(r.uriTemplate), server: l.name });
    }
    if (l.prefix === "") {
      for (const r of l.resources) {
        if (listedAsIs.has(r.uri)) continue;
        listedAsIs.add(r.uri);
        cat.resources.push(r);
      }
      cat.resourceTemplates.push(...l.resourceTemplates);
      continue;
    }
    const key = keys.get(l.name)!;
    for (const r of l.resources) cat.resources.push({ ...r, uri: encodeResourceUri(key, r.uri) });
    for (const r of l.resourceTemplates) {
      cat.resourceTemplates.push({ ...r, uriTemplate: encodeResourceUri(key, r.uriTemplate) });
    }
  }
  if (federateAll) {
    if (!routes.servers.length) routes.servers = listings.map((l) => l.name);
    cat.resourceRoutes = routes;
  }
  return cat;
}

const jsonEncoder = new TextEncoder();

/**
 * The JSON text (UTF-8) of lists served again and again: `tools/list` of thousands of tools is
 * megabytes of JSON, and the same catalog objects come back in the same order until the catalog
 * changes. A list is recognised by the identity of its items, so the items must not be changed in
 * place (catalog entries never are: a change builds new ones). The `max` most recently used lists
 * are kept.
 */
export class JsonListCache {
  readonly #max: number;
  #entries: Array<{ items: readonly unknown[]; json: Uint8Array }> = [];

  /** A cache of at most `max` lists (default 8). */
  constructor(max = 8) {
    this.#max = max;
  }

  /** `JSON.stringify(items)` as UTF-8, from the cache when these very items in this order were serialised before. */
  json(items: readonly unknown[]): Uint8Array {
    const at = this.#entries.findIndex((e) => sameItems(e.items, items));
    if (at >= 0) {
      const [entry] = this.#entries.splice(at, 1);
      this.#entries.unshift(entry);
      return entry.json;
    }
    const entry = { items: [...items], json: jsonEncoder.encode(JSON.stringify(items)) };
    this.#entries.unshift(entry);
    if (this.#entries.length > this.#max) this.#entries.pop();
    return entry.json;
  }
}
