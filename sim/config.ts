/**
 * The simulator gateway's configuration: a plain value built from parsed Kubernetes objects
 * (`configFromObjects`) or from upstream's standalone broker config file (`configFromBrokerFile`).
 * The gateway never reads CRD types directly so it stays independent of `src/model`.
 *
 * @module
 */
import { parse as parseYaml } from "yaml";
import { GatewayConfigError } from "./errors.ts";
import { invalidHeaderValue } from "./redact.ts";

/** What the broker does with upstream tools whose input schema is not a valid object schema. */
export type InvalidToolPolicy = "FilterOut" | "RejectServer";

/** One upstream MCP server the gateway federates (an `MCPServerRegistration`). */
export interface ServerConfig {
  /** `namespace/name` of the registration (or a bare name from a broker file). */
  name: string;
  /** Base URL of the backend; `path` is appended unless the URL already has a path. */
  url: string;
  /** Joined to tool and prompt names with no separator; may be empty. */
  prefix: string;
  /** Disabled servers are kept in the config (and `/status`) but not connected. */
  enabled: boolean;
  /** Sent verbatim as the `Authorization` header to this backend only. */
  credential?: string;
  /** MCP endpoint path on the backend, default `/mcp`. */
  path: string;
  /** Categories `discover_tools` reports and filters on (`spec.category`, default `uncategorised`). */
  category?: string[];
  /** Short summary `discover_tools` reports (`spec.hint`). */
  hint?: string;
  /** Tags for `list_tags` and `filter_tools_by_tags` (`spec.tags`); any tag turns those tools on. */
  tags?: string[];
  /**
   * `spec.userSpecificList: Enabled`: the server's tools differ per user, so they are listed per client
   * session with that client's own headers (its Authorization included) and called the same way; the
   * registration's credential serves only the gateway's health checks.
   */
  userSpecificList?: boolean;
  /**
   * `spec.tokenURLElicitation`: with the extension's `urlElicitation`, each user's own token for this
   * server is asked for by URL elicitation at `tools/call` time and replaces `credential` on their
   * calls; `url` is an external page to send users to instead of the gateway's `/tokens`.
   */
  tokenURLElicitation?: { url?: string };
}

/** A named subset of the federated tools and prompts (an `MCPVirtualServer`). */
export interface VirtualServerConfig {
  /** `namespace/name`, matched against the `X-Mcp-Virtualserver` header. */
  name: string;
  /** Prefixed tool names in the set. */
  tools: string[];
  /** Prefixed prompt names in the set; absent means prompts are not filtered. */
  prompts?: string[];
}

/** Gateway-wide settings (an `MCPGatewayExtension`, plus simulator knobs). */
export interface ExtensionConfig {
  /** Seconds between health pings to each upstream (cluster range 10..7200, default 60). */
  backendPingIntervalSeconds: number;
  /** Overrides `backendPingIntervalSeconds` with milliseconds; lets tests run sub-second. */
  backendPingIntervalMs?: number;
  /** Largest accepted request body, default 1048576. */
  maxBodyBytes: number;
  /** RFC 9728 metadata served at `/.well-known/oauth-protected-resource`, when set. */
  oauthProtectedResource?: {
    authorizationServers: string[];
    resourceName?: string;
    resource?: string;
    bearerMethodsSupported?: string[];
    scopesSupported?: string[];
  };
  /**
   * The broker's public host (the extension's `publicHost`): requests naming it in `Host` are
   * accepted besides loopback ones (DNS rebinding guard).
   */
  publicHost?: string;
  /** Origins accepted besides localhost ones; requests without `Origin` are always accepted. */
  allowedOrigins: string[];
  /** Default `FilterOut`. */
  invalidToolPolicy: InvalidToolPolicy;
  /** Reject calls to tools and prompts outside the selected virtual server (upstream only filters lists). */
  enforceVirtualServers: boolean;
  /**
   * Serve the progressive-discovery meta-tools `discover_tools` and `select_tools` (upstream's
   * broker flag `--discovery-tools-enabled`, default true).
   */
  discoveryTools: boolean;
  /**
   * With more federated tools than this, `tools/list` shows only the meta-tools until the session
   * calls `select_tools` (upstream's `--discovery-tool-threshold`); 0, the default, never hides.
   */
  discoveryToolThreshold: number;
  /**
   * The extension's `urlElicitation: Enabled` (the broker's `--enable-url-elicitation`): the gateway
   * serves `/tokens` and asks for per-user tokens for registrations with `tokenURLElicitation`.
   */
  urlElicitation?: boolean;
  /**
   * The PEM public key of the extension's `trustedHeadersKey` Secret (data key `key`), which
   * verifies the `x-mcp-authorized` wristband; absent when none is configured or found, as the
   * broker's empty `TRUSTED_HEADER_PUBLIC_KEY` (a wristband then lists nothing).
   */
  trustedHeadersPublicKey?: string;
  /**
   * Without a wristband (or one without a `tools` / `prompts` entry) list nothing (upstream's
   * broker flag `--enforce-capability-filtering`, default false).
   */
  enforceCapabilityFilter: boolean;
}

/** Everything the gateway needs to run; swap it at runtime with `gateway.reload()`. */
export interface GatewayConfig {
  servers: ServerConfig[];
  virtualServers: VirtualServerConfig[];
  extension: ExtensionConfig;
}

/** Settings used when no `MCPGatewayExtension` says otherwise. */
export const DEFAULT_EXTENSION: Readonly<ExtensionConfig> = Object.freeze({
  backendPingIntervalSeconds: 60,
  maxBodyBytes: 1048576,
  allowedOrigins: [],
  invalidToolPolicy: "FilterOut",
  enforceVirtualServers: false,
  discoveryTools: true,
  discoveryToolThreshold: 0,
  enforceCapabilityFilter: false,
});

/** Input accepted by `normalizeConfig`: every field optional except server name and url. */
export interface GatewayConfigInput {
  servers?: Array<Partial<ServerConfig> & { name: string; url: string }>;
  virtualServers?: VirtualServerConfig[];
  extension?: Partial<ExtensionConfig>;
}

/** Fills defaults and checks the invariants the gateway relies on (unique server names). */
export function normalizeConfig(input: GatewayConfigInput): GatewayConfig {
  const seen = new Set<string>();
  const servers = (input.servers ?? []).map((s): ServerConfig => {
    if (!s.name) throw new GatewayConfigError("A server in the gateway config has no name.");
    if (seen.has(s.name)) {
      throw new GatewayConfigError(`Server ${s.name} appears twice in the gateway config.`);
    }
    seen.add(s.name);
    try {
      new URL(s.url);
    } catch (cause) {
      throw new GatewayConfigError(`Server ${s.name} has an invalid url ${JSON.stringify(s.url)}.`, {
        cause,
      });
    }
    return {
      name: s.name,
      url: s.url,
      prefix: s.prefix ?? "",
      enabled: s.enabled ?? true,
      credential: s.credential,
      path: s.path ?? "/mcp",
      ...(s.category?.length ? { category: [...s.category] } : {}),
      ...(s.hint ? { hint: s.hint } : {}),
      ...(s.tags?.length ? { tags: [...s.tags] } : {}),
      ...(s.userSpecificList ? { userSpecificList: true } : {}),
      ...(s.tokenURLElicitation ? { tokenURLElicitation: { ...s.tokenURLElicitation } } : {}),
    };
  });
  const ext = { ...DEFAULT_EXTENSION, ...input.extension };
  if (!Number.isInteger(ext.discoveryToolThreshold) || ext.discoveryToolThreshold < 0) {
    throw new GatewayConfigError(
      `Extension field discoveryToolThreshold must be a whole number of tools, 0 or more, got ${
        String(ext.discoveryToolThreshold)
      }.`,
    );
  }
  if (ext.invalidToolPolicy !== "FilterOut" && ext.invalidToolPolicy !== "RejectServer") {
    throw new GatewayConfigError(
      `Extension field invalidToolPolicy must be FilterOut or RejectServer, got ${
        String(ext.invalidToolPolicy)
      }.`,
    );
  }
  return {
    servers,
    virtualServers: (input.virtualServers ?? []).map((v) => ({ ...v, tools: [...v.tools] })),
    extension: { ...ext, allowedOrigins: [...ext.allowedOrigins] },
  };
}

/** The URL the gateway connects to for a server: `url` plus `path` unless the URL has its own path. */
export function serverEndpoint(server: ServerConfig): URL {
  const url = new URL(server.url);
  if (url.pathname === "/" || url.pathname === "") url.pathname = server.path || "/mcp";
  return url;
}

const API_VERSION = "mcp.kuadrant.io/v1";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

const strings = (v: unknown): string[] | undefined =>
  Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : undefined;

/** `category`, `hint` and `tags` of a registration spec or a broker file entry, as far as given. */
function discoveryFields(o: Obj): Pick<ServerConfig, "category" | "hint" | "tags"> {
  const category = strings(o.category);
  const hint = str(o.hint);
  const tags = strings(o.tags);
  return {
    ...(category?.length ? { category } : {}),
    ...(hint ? { hint } : {}),
    ...(tags?.length ? { tags } : {}),
  };
}

/** `tokenURLElicitation` of a registration spec or a broker file entry, when it has one. */
function elicitationField(o: Obj): Pick<ServerConfig, "tokenURLElicitation"> {
  if (!isObj(o.tokenURLElicitation)) return {};
  const url = str(o.tokenURLElicitation.url);
  return { tokenURLElicitation: url ? { url } : {} };
}

/**
 * A Secret's value under `key`: `stringData` over `data`, which decodes to bytes, one character each,
 * as a header's bytes go on the wire. Undefined when absent, null when `data` is not base64.
 */
function secretValue(secret: Obj | undefined, key: string): string | null | undefined {
  const sd = secret && isObj(secret.stringData) ? str(secret.stringData[key]) : undefined;
  const d = secret && isObj(secret.data) ? str(secret.data[key]) : undefined;
  if (sd !== undefined || d === undefined) return sd;
  try {
    return atob(d);
  } catch {
    return null;
  }
}

/**
 * Builds a config from parsed Kubernetes objects (`MCPServerRegistration`, `MCPVirtualServer`,
 * `MCPGatewayExtension` of `mcp.kuadrant.io/v1`); other objects are ignored. `upstreams` maps a
 * registration's `name` or `ns/name` to the URL of its backend, since a local run has no HTTPRoutes.
 * A `credentialRef` is resolved from Secrets among `objects` (data base64, or stringData); one that
 * is missing, or whose value cannot be an HTTP header value, is a {@link GatewayConfigError} naming
 * the Secret and key, never the value. The extension's `trustedHeadersKey` Secret (its `key`) gives
 * the wristband's public key; a missing one leaves it unset.
 */
export function configFromObjects(objects: unknown[], upstreams: Record<string, string>): GatewayConfig {
  const secrets = new Map<string, Obj>();
  for (const o of objects) {
    if (isObj(o) && o.kind === "Secret" && isObj(o.metadata)) {
      secrets.set(`${str(o.metadata.namespace) ?? "default"}/${str(o.metadata.name)}`, o);
    }
  }
  const input: GatewayConfigInput = { servers: [], virtualServers: [], extension: {} };
  for (const o of objects) {
    if (!isObj(o) || !isObj(o.metadata) || !isObj(o.spec)) continue;
    if (o.apiVersion !== API_VERSION) {
      if (typeof o.apiVersion === "string" && o.apiVersion.startsWith("mcp.kuadrant.io/")) {
        throw new GatewayConfigError(
          `${String(o.kind)} ${String(o.metadata.name)} uses ${o.apiVersion}; only ${API_VERSION} is served.`,
        );
      }
      continue;
    }
    const ns = str(o.metadata.namespace) ?? "default";
    const name = str(o.metadata.name) ?? "";
    const full = `${ns}/${name}`;
    const spec = o.spec;
    if (o.kind === "MCPServerRegistration") {
      const url = upstreams[full] ?? upstreams[name];
      if (!url) {
        throw new GatewayConfigError(`MCPServerRegistration ${full} has no upstream URL.`, {
          hint: `Map ${full} (or ${name}) to the backend URL.`,
        });
      }
      let credential: string | undefined;
      if (isObj(spec.credentialRef)) {
        const ref = `${ns}/${str(spec.credentialRef.name)}`;
        const secret = secrets.get(ref);
        const key = str(spec.credentialRef.key) ?? "token";
        if (!secret) {
          throw new GatewayConfigError(`MCPServerRegistration ${full} refers to missing Secret ${ref}.`);
        }
        const what = `Secret ${ref} key ${
          JSON.stringify(key)
        } (credentialRef of MCPServerRegistration ${full})`;
        const value = secretValue(secret, key);
        if (value === null) throw new GatewayConfigError(`${what} is not valid base64.`);
        credential = value;
        if (credential === undefined) {
          throw new GatewayConfigError(`Secret ${ref} has no key ${key} for MCPServerRegistration ${full}.`);
        }
        // Refused here, naming where it came from: fetch would refuse it on every request and quote it.
        const invalid = invalidHeaderValue(credential);
        if (invalid) throw new GatewayConfigError(`${what} is ${invalid}.`);
      }
      input.servers!.push({
        name: full,
        url,
        prefix: str(spec.prefix) ?? "",
        enabled: (str(spec.state) ?? "Enabled") === "Enabled",
        credential,
        path: str(spec.path) ?? "/mcp",
        ...discoveryFields(spec),
        ...(spec.userSpecificList === "Enabled" ? { userSpecificList: true } : {}),
        ...elicitationField(spec),
      });
    } else if (o.kind === "MCPVirtualServer") {
      const tools = Array.isArray(spec.tools) ? spec.tools.filter((t) => typeof t === "string") : [];
      const prompts = Array.isArray(spec.prompts)
        ? spec.prompts.filter((t) => typeof t === "string")
        : undefined;
      input.virtualServers!.push({ name: full, tools, ...(prompts ? { prompts } : {}) });
    } else if (o.kind === "MCPGatewayExtension") {
      const ext = input.extension!;
      if (typeof spec.backendPingIntervalSeconds === "number") {
        ext.backendPingIntervalSeconds = spec.backendPingIntervalSeconds;
      }
      if (typeof spec.maxBodyBytes === "number") ext.maxBodyBytes = spec.maxBodyBytes;
      if (typeof spec.publicHost === "string" && spec.publicHost) ext.publicHost = spec.publicHost;
      if (spec.urlElicitation === "Enabled") ext.urlElicitation = true;
      if (isObj(spec.trustedHeadersKey)) {
        // What the controller mounts as TRUSTED_HEADER_PUBLIC_KEY: the Secret's `key`, in the extension's namespace.
        const secret = secrets.get(`${ns}/${str(spec.trustedHeadersKey.secretName)}`);
        const pem = secretValue(secret, "key");
        if (pem) ext.trustedHeadersPublicKey = pem;
      }
      if (isObj(spec.oauthProtectedResource)) {
        const p = spec.oauthProtectedResource;
        ext.oauthProtectedResource = {
          authorizationServers: Array.isArray(p.authorizationServers)
            ? p.authorizationServers.map(String)
            : [],
          resourceName: str(p.resourceName) ?? "MCP Server",
          resource: str(p.resource),
          bearerMethodsSupported: Array.isArray(p.bearerMethodsSupported)
            ? p.bearerMethodsSupported.map(String)
            : ["header"],
          scopesSupported: Array.isArray(p.scopesSupported) ? p.scopesSupported.map(String) : ["basic"],
        };
      }
    }
  }
  return normalizeConfig(input);
}

/**
 * Reads upstream's standalone broker config file (YAML or JSON):
 * `servers: [{name, url, hostname, enabled | state, prefix, credential, category, hint, tags,
 * userSpecificList, tokenURLElicitation}]` and
 * `virtualServers: [{name, tools, prompts}]`. `url` there already includes the MCP path.
 */
export function configFromBrokerFile(text: string): GatewayConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (cause) {
    throw new GatewayConfigError("The broker config file is not valid YAML.", { cause });
  }
  if (!isObj(doc)) {
    throw new GatewayConfigError("The broker config file must be a mapping with a servers list.");
  }
  const servers = Array.isArray(doc.servers) ? doc.servers : [];
  const input: GatewayConfigInput = {
    servers: servers.map((s, i) => {
      if (!isObj(s) || !str(s.name) || !str(s.url)) {
        throw new GatewayConfigError(`Broker config servers[${i}] needs a name and a url.`);
      }
      const state = str(s.state);
      const enabled = typeof s.enabled === "boolean" ? s.enabled : (state ?? "Enabled") === "Enabled";
      const url = new URL(s.url as string);
      return {
        name: s.name as string,
        url: s.url as string,
        prefix: str(s.prefix) ?? "",
        enabled,
        credential: str(s.credential),
        path: url.pathname === "/" ? "/mcp" : url.pathname,
        ...discoveryFields(s),
        ...(s.userSpecificList === true ? { userSpecificList: true } : {}),
        ...elicitationField(s),
      };
    }),
    virtualServers: Array.isArray(doc.virtualServers)
      ? doc.virtualServers.filter(isObj).map((v) => ({
        name: String(v.name),
        tools: Array.isArray(v.tools) ? v.tools.map(String) : [],
        ...(Array.isArray(v.prompts) ? { prompts: v.prompts.map(String) } : {}),
      }))
      : [],
  };
  return normalizeConfig(input);
}
