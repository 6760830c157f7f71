/**
 * A small typed Kubernetes API client on Deno's `fetch`: discovery of kinds and plurals (a
 * RESTMapper-like lookup of `/apis/<group>/<version>`), get, list, delete, patch and raw requests
 * with a per-request timeout, and errors mapped to {@link KubeApiError}s that say what to do.
 *
 * TLS and credentials come from {@link RestConfig} and {@link CredentialSource}; requests use a
 * `Deno.HttpClient` built from the CA bundle, the client certificate and the proxy URL.
 *
 * @module
 */

import { ConfigError, KubeApiError } from "../errors.ts";
import { GROUP } from "../model/crds.ts";
import { CredentialSource } from "./auth.ts";
import { type ConfigOptions, resolveConfig, type RestConfig } from "./config.ts";

/** `metadata` of a Kubernetes object, the fields this client reads. */
export interface ObjectMeta {
  /** Name. */
  name?: string;
  /** Prefix for a generated name. */
  generateName?: string;
  /** Namespace, for namespaced objects. */
  namespace?: string;
  /** Unique id. */
  uid?: string;
  /** Opaque version for optimistic concurrency and watches. */
  resourceVersion?: string;
  /** Generation of the spec. */
  generation?: number;
  /** RFC 3339 creation time. */
  creationTimestamp?: string;
  /** Set when deletion has started. */
  deletionTimestamp?: string;
  /** Labels. */
  labels?: Record<string, string>;
  /** Annotations. */
  annotations?: Record<string, string>;
  /** Server-side apply field ownership. */
  managedFields?: ManagedFieldsEntry[];
  /** Owners. */
  ownerReferences?: unknown[];
  /** Finalizers. */
  finalizers?: string[];
}

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  /** Field manager name, e.g. `kubectl-mcp`. */
  manager?: string;
  /** `Apply` or `Update`. */
  operation?: string;
  /** apiVersion the fields were set with. */
  apiVersion?: string;
  /** When. */
  time?: string;
  /** `FieldsV1`. */
  fieldsType?: string;
  /** The owned field set. */
  fieldsV1?: Record<string, unknown>;
  /** Subresource, e.g. `status`. */
  subresource?: string;
}

/** A Kubernetes object. */
export interface KubeObject {
  /** `group/version` or `v1`. */
  apiVersion?: string;
  /** Kind. */
  kind?: string;
  /** Metadata. */
  metadata?: ObjectMeta;
  /** Everything else (spec, status, data, ...). */
  [key: string]: unknown;
}

/** A list answer. */
export interface KubeList<T extends KubeObject = KubeObject> {
  /** `group/version`. */
  apiVersion?: string;
  /** `<Kind>List`. */
  kind?: string;
  /** List metadata: resourceVersion to watch from, continue token. */
  metadata: { resourceVersion?: string; continue?: string };
  /** The objects. */
  items: T[];
}

/** A resource type as discovery describes it. */
export interface ResourceInfo {
  /** API group, "" for the core group. */
  group: string;
  /** Version. */
  version: string;
  /** Kind. */
  kind: string;
  /** Plural resource name used in URLs. */
  plural: string;
  /** Singular name. */
  singular: string;
  /** Whether objects live in namespaces. */
  namespaced: boolean;
  /** Verbs the server supports. */
  verbs: string[];
  /** Short names. */
  shortNames: string[];
}

/** What a request is doing, for error messages in kubectl's words. */
export interface RequestContext {
  /** RBAC verb: get, list, watch, create, patch, delete. */
  verb?: string;
  /** The resource type. */
  resource?: Pick<ResourceInfo, "group" | "plural">;
  /** The object's namespace. */
  namespace?: string;
  /** The object's name. */
  name?: string;
}

/** Options of {@link KubeClient.request}. */
export interface RequestOptions {
  /** Query parameters; undefined values are left out. */
  query?: Record<string, string | number | boolean | undefined>;
  /** Body: a string is sent as is, anything else as JSON. */
  body?: unknown;
  /** Content-Type of the body (default application/json). */
  contentType?: string;
  /** Accept header (default application/json). */
  accept?: string;
  /** Abort signal. */
  signal?: AbortSignal;
  /** Overrides the configured timeout; 0 disables it. */
  timeoutMs?: number;
  /**
   * The answer is a stream read for as long as it lasts (a watch): the timeout bounds only the wait
   * for the response's status and headers, not the body.
   */
  stream?: boolean;
  /** What the request does, for errors. */
  context?: RequestContext;
}

/** The Status object the API server sends with errors. */
export interface KubeStatus {
  /** `Failure`. */
  status?: string;
  /** Human-readable message. */
  message?: string;
  /** Machine-readable reason: NotFound, Forbidden, Conflict, ... */
  reason?: string;
  /** Details: the object and, for conflicts and invalid objects, the causes. */
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
  /** HTTP status. */
  code?: number;
}

export { DEFAULT_FIELD_MANAGER } from "./field_manager.ts";

/** Options of {@link KubeClient}. */
export interface KubeClientOptions {
  /**
   * Aborts every request of the client, its exec credential plugin and its watches (the CLI passes
   * the process's Ctrl-C signal); requests then reject with the signal's reason.
   */
  signal?: AbortSignal;
}

/** A client for one API server and user. */
export class KubeClient {
  /** The configuration it talks with. */
  readonly config: RestConfig;
  /** Aborts everything the client does; see {@link KubeClientOptions.signal}. */
  readonly signal?: AbortSignal;
  #credentials: CredentialSource;
  #httpClients = new Map<string, Deno.HttpClient>();
  #discovery = new Map<string, Promise<ResourceInfo[]>>();

  /** Creates a client for `config`. */
  constructor(config: RestConfig, options: KubeClientOptions = {}) {
    this.config = config;
    this.signal = options.signal;
    this.#credentials = new CredentialSource(config, { signal: options.signal });
  }

  /** Resolves the kubeconfig (see {@link resolveConfig}) and creates a client. */
  static fromOptions(options: ConfigOptions & KubeClientOptions = {}): KubeClient {
    return new KubeClient(resolveConfig(options), { signal: options.signal });
  }

  /** `signal` together with the client's own signal, for waits of one operation. */
  abortSignal(signal?: AbortSignal): AbortSignal | undefined {
    const signals = [signal, this.signal].filter((s) => s !== undefined);
    return signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  }

  /** The namespace requests default to (`-n`, the context's, or `default`). */
  get namespace(): string {
    return this.config.namespace;
  }

  /** Releases pooled connections. */
  close(): void {
    for (const client of this.#httpClients.values()) client.close();
    this.#httpClients.clear();
  }

  /** Closes the client when used with `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Headers and TLS client for a request or WebSocket, with fresh credentials. */
  async connection(): Promise<{ headers: Record<string, string>; client: Deno.HttpClient }> {
    const credentials = await this.#credentials.current();
    return { headers: credentials.headers, client: this.#httpClient(credentials.clientCert) };
  }

  #httpClient(clientCert?: { certPem: string; keyPem: string }): Deno.HttpClient {
    const key = clientCert ? clientCert.certPem : "";
    let client = this.#httpClients.get(key);
    if (client) return client;
    if (this.config.insecureSkipTlsVerify) {
      // Deno's fetch verifies certificates unless the whole process runs with
      // --unsafely-ignore-certificate-errors; say so instead of failing with a TLS error later.
      throw new ConfigError(
        `cluster "${this.config.clusterName}" sets insecure-skip-tls-verify, which kubectl-mcp does not support`,
        {
          hint: "Set certificate-authority or certificate-authority-data for the cluster in your kubeconfig.",
        },
      );
    }
    const options: Deno.CreateHttpClientOptions & Partial<Deno.TlsCertifiedKeyPem> = {};
    if (this.config.caPem) options.caCerts = [this.config.caPem];
    if (clientCert) {
      options.cert = clientCert.certPem;
      options.key = clientCert.keyPem;
    }
    if (this.config.proxyUrl) options.proxy = { url: this.config.proxyUrl };
    client = Deno.createHttpClient(options as Deno.CreateHttpClientOptions & Deno.TlsCertifiedKeyPem);
    this.#httpClients.set(key, client);
    return client;
  }

  /** Builds a URL on the API server. */
  url(path: string, query: RequestOptions["query"] = {}): URL {
    const url = new URL(this.config.server + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url;
  }

  /**
   * Sends a request and returns the response when its status is 2xx; any other status, a network
   * failure or a timeout becomes a {@link KubeApiError}. A 401 with refreshable credentials
   * (exec plugin, token file) is retried once with fresh ones. When the request's or the client's
   * signal aborts, it rejects with the signal's reason.
   */
  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const response = await this.#send(method, path, options);
    if (response.status === 401 && this.#credentials.refreshable) {
      await response.body?.cancel();
      this.#credentials.invalidate();
      return await this.#checked(await this.#send(method, path, options), options.context ?? {});
    }
    return await this.#checked(response, options.context ?? {});
  }

  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const cancel = this.abortSignal(options.signal);
    const { headers, client } = await this.connection();
    headers.Accept = options.accept ?? "application/json";
    headers["User-Agent"] = "kubectl-mcp";
    let body: string | undefined;
    if (options.body !== undefined) {
      body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
      headers["Content-Type"] = options.contentType ?? "application/json";
    }
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs;
    const signals = cancel ? [cancel] : [];
    // A stream's timeout ends with its headers; any other request's also bounds reading the body.
    let headersTimer: ReturnType<typeof setTimeout> | undefined;
    if (timeoutMs > 0 && options.stream) {
      const headers = new AbortController();
      headersTimer = setTimeout(
        () => headers.abort(new DOMException("The request timed out.", "TimeoutError")),
        timeoutMs,
      );
      signals.push(headers.signal);
    } else if (timeoutMs > 0) {
      signals.push(AbortSignal.timeout(timeoutMs));
    }
    const url = this.url(path, options.query);
    try {
      return await fetch(url, {
        method,
        headers,
        body,
        client,
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (error) {
      throw this.#networkError(error, timeoutMs, cancel);
    } finally {
      clearTimeout(headersTimer);
    }
  }

  #networkError(error: unknown, timeoutMs: number, signal?: AbortSignal): Error {
    const server = this.config.server;
    if (signal?.aborted) return (signal.reason ?? error) as Error;
    const name = (error as Error)?.name;
    if (name === "TimeoutError") {
      return new KubeApiError(`the request to ${server} timed out after ${timeoutMs / 1000}s`, {
        cause: error,
        hint: "Raise --request-timeout, or check that the API server is healthy.",
      });
    }
    const message = (error as Error)?.message ?? String(error);
    if (/certificate|UnknownIssuer|x509|tls|handshake/i.test(message)) {
      return new KubeApiError(`cannot verify the TLS certificate of ${server}: ${message}`, {
        cause: error,
        hint:
          `Check certificate-authority(-data) of cluster "${this.config.clusterName}" in your kubeconfig, and the client certificate of user "${this.config.userName}".`,
      });
    }
    return new KubeApiError(
      `the connection to the server ${server} was refused - did you specify the right host or port?`,
      {
        cause: error,
        hint:
          `Check that the cluster of context "${this.config.contextName}" is running and reachable (${message}).`,
      },
    );
  }

  async #checked(response: Response, context: RequestContext): Promise<Response> {
    if (response.ok) return response;
    const text = await response.text();
    let status: KubeStatus = {};
    try {
      status = JSON.parse(text);
    } catch {
      status = { message: text.trim() || response.statusText };
    }
    throw apiError(response.status, status, context, this.config);
  }

  /** Sends a request and parses the JSON answer; a body that stops or is not JSON is an error too. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, options);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw this.#networkError(
        error,
        options.timeoutMs ?? this.config.timeoutMs,
        this.abortSignal(options.signal),
      );
    }
    try {
      return JSON.parse(text) as T;
    } catch (error) {
      throw new KubeApiError(
        `the server ${this.config.server} answered ${method} ${path} with something other than JSON`,
        { cause: error, status: response.status },
      );
    }
  }

  /** The resource types of one API group version (cached). Unknown group versions are errors. */
  async resources(group: string, version: string): Promise<ResourceInfo[]> {
    const key = `${group}/${version}`;
    let pending = this.#discovery.get(key);
    if (!pending) {
      pending = this.#discover(group, version);
      this.#discovery.set(key, pending);
      pending.catch(() => this.#discovery.delete(key));
    }
    return await pending;
  }

  async #discover(group: string, version: string): Promise<ResourceInfo[]> {
    const path = group ? `/apis/${group}/${version}` : `/api/${version}`;
    let list: { resources?: Record<string, unknown>[] };
    try {
      list = await this.json("GET", path);
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 404) {
        throw await this.#missingGroupVersion(group, version, error);
      }
      throw error;
    }
    return (list.resources ?? []).filter((r) => !String(r.name).includes("/")).map((r) => ({
      group,
      version,
      kind: String(r.kind),
      plural: String(r.name),
      singular: String(r.singularName || String(r.kind).toLowerCase()),
      namespaced: r.namespaced === true,
      verbs: (r.verbs as string[]) ?? [],
      shortNames: (r.shortNames as string[]) ?? [],
    }));
  }

  async #missingGroupVersion(group: string, version: string, cause: KubeApiError): Promise<KubeApiError> {
    const hint = group === GROUP
      ? "The MCP gateway CRDs are not installed in this cluster: run 'kubectl mcp crds install'."
      : `Install the CRDs or API that serve ${group}/${version}.`;
    // Tell "group missing" from "group present, version not served" (v1alpha1 manifests).
    if (group) {
      try {
        const info = await this.json<{ versions?: { version: string }[] }>("GET", `/apis/${group}`);
        const served = (info.versions ?? []).map((v) => v.version);
        if (served.length) {
          return new KubeApiError(
            `the server does not serve ${group}/${version} (it serves ${
              served.map((v) => `${group}/${v}`).join(", ")
            })`,
            { status: 404, reason: "NotFound", cause, hint: `Change apiVersion to ${group}/${served[0]}.` },
          );
        }
      } catch {
        // fall through to "group missing"
      }
    }
    return new KubeApiError(
      `the server doesn't have the API group ${group ? `${group}/${version}` : version}`,
      {
        status: 404,
        reason: "NotFound",
        cause,
        hint,
      },
    );
  }

  /** Maps `apiVersion` + `kind` to a resource type, as kubectl's RESTMapper does. */
  async resourceFor(apiVersion: string, kind: string): Promise<ResourceInfo> {
    const [group, version] = apiVersion.includes("/") ? apiVersion.split("/", 2) : ["", apiVersion];
    const found = (await this.resources(group, version)).find((r) => r.kind === kind);
    if (!found) {
      const hint = group === GROUP
        ? "Run 'kubectl mcp crds install' to install the current CRDs."
        : undefined;
      throw new KubeApiError(`no matches for kind "${kind}" in version "${apiVersion}"`, {
        status: 404,
        reason: "NotFound",
        hint,
      });
    }
    return found;
  }

  /** The URL path of a collection or object. */
  path(info: Pick<ResourceInfo, "group" | "version" | "plural" | "namespaced">, options: {
    namespace?: string;
    name?: string;
    subresource?: string;
  } = {}): string {
    let path = info.group ? `/apis/${info.group}/${info.version}` : `/api/${info.version}`;
    if (info.namespaced && options.namespace) path += `/namespaces/${encodeURIComponent(options.namespace)}`;
    path += `/${info.plural}`;
    if (options.name) path += `/${encodeURIComponent(options.name)}`;
    if (options.subresource) path += `/${options.subresource}`;
    return path;
  }

  /** Reads one object. */
  async get<T extends KubeObject = KubeObject>(
    info: ResourceInfo,
    name: string,
    options: { namespace?: string; signal?: AbortSignal } = {},
  ): Promise<T> {
    const namespace = info.namespaced ? options.namespace ?? this.namespace : undefined;
    return await this.json<T>("GET", this.path(info, { namespace, name }), {
      signal: options.signal,
      context: { verb: "get", resource: info, namespace, name },
    });
  }

  /**
   * Lists objects, following `continue` tokens. `namespace: null` lists across all namespaces;
   * undefined uses the client's namespace.
   */
  async list<T extends KubeObject = KubeObject>(info: ResourceInfo, options: {
    namespace?: string | null;
    labelSelector?: string;
    fieldSelector?: string;
    signal?: AbortSignal;
  } = {}): Promise<KubeList<T>> {
    const namespace = info.namespaced
      ? (options.namespace === null ? undefined : options.namespace ?? this.namespace)
      : undefined;
    const path = this.path(info, { namespace });
    const items: T[] = [];
    let token: string | undefined;
    let last: KubeList<T>;
    do {
      last = await this.json<KubeList<T>>("GET", path, {
        query: {
          labelSelector: options.labelSelector,
          fieldSelector: options.fieldSelector,
          limit: 500,
          continue: token,
        },
        signal: options.signal,
        context: { verb: "list", resource: info, namespace },
      });
      // Item by item: a server may send more than a spread into push() can take.
      for (const item of last.items ?? []) items.push(item);
      token = last.metadata?.continue || undefined;
    } while (token);
    // Lists omit kind and apiVersion on items; fill them in as kubectl does for printing.
    const apiVersion = info.group ? `${info.group}/${info.version}` : info.version;
    for (const item of items) {
      item.apiVersion ??= apiVersion;
      item.kind ??= info.kind;
    }
    return { ...last, items };
  }

  /** Deletes one object; returns false when it did not exist and `ignoreNotFound` is set. */
  async delete(info: ResourceInfo, name: string, options: {
    namespace?: string;
    ignoreNotFound?: boolean;
    dryRun?: boolean;
    propagationPolicy?: "Foreground" | "Background" | "Orphan";
  } = {}): Promise<boolean> {
    const namespace = info.namespaced ? options.namespace ?? this.namespace : undefined;
    try {
      const response = await this.request("DELETE", this.path(info, { namespace, name }), {
        query: { dryRun: options.dryRun ? "All" : undefined },
        body: options.propagationPolicy
          ? { apiVersion: "v1", kind: "DeleteOptions", propagationPolicy: options.propagationPolicy }
          : undefined,
        context: { verb: "delete", resource: info, namespace, name },
      });
      await response.body?.cancel();
      return true;
    } catch (error) {
      if (options.ignoreNotFound && error instanceof KubeApiError && error.status === 404) return false;
      throw error;
    }
  }
}

/** The `resource.group` form kubectl uses in messages, e.g. `mcpserverregistrations.mcp.kuadrant.io`. */
export function qualifiedResource(resource: Pick<ResourceInfo, "group" | "plural">): string {
  return resource.group ? `${resource.plural}.${resource.group}` : resource.plural;
}

/**
 * Turns an API error answer into a {@link KubeApiError} whose message is the server's (kubectl
 * prints the same) and whose hint says what to do next.
 */
export function apiError(
  code: number,
  status: KubeStatus,
  context: RequestContext,
  config: Pick<RestConfig, "server" | "userName" | "contextName">,
): KubeApiError {
  const reason = status.reason;
  const message = status.message || `the server answered ${code}`;
  const options = { status: code, reason };
  const what = context.resource ? qualifiedResource(context.resource) : "the resource";
  if (code === 401) {
    return new KubeApiError(
      `You must be logged in to the server (Unauthorized): ${config.server} rejected the credentials of user "${config.userName}"`,
      {
        ...options,
        hint:
          `The token or client certificate of user "${config.userName}" (context "${config.contextName}") is not accepted: it may have expired or belong to another cluster.`,
      },
    );
  }
  if (code === 403) {
    const verb = context.verb ?? "access";
    const where = context.namespace ? ` -n ${context.namespace}` : context.verb === "list" ? " -A" : "";
    return new KubeApiError(message, {
      ...options,
      hint:
        `Ask a cluster administrator for RBAC permission (check with 'kubectl auth can-i ${verb} ${what}${where}').`,
    });
  }
  if (code === 404) {
    if (status.details?.kind === "namespaces") {
      const namespace = status.details.name ?? context.namespace;
      return new KubeApiError(message, {
        ...options,
        hint: `Create the namespace first: kubectl create namespace ${namespace}`,
      });
    }
    if (!status.details?.name && context.resource && !context.name && !message.includes("not found")) {
      return new KubeApiError(`the server doesn't have a resource type "${context.resource.plural}"`, {
        ...options,
        hint: context.resource.group === GROUP ? "Run 'kubectl mcp crds install'." : undefined,
      });
    }
    return new KubeApiError(message, options);
  }
  if (code === 409) {
    const conflicts = (status.details?.causes ?? []).filter((cause) =>
      cause.reason === "FieldManagerConflict"
    );
    if (conflicts.length) return conflictError(conflicts, context, options);
  }
  return new KubeApiError(message, options);
}

function conflictError(
  conflicts: { message?: string; field?: string }[],
  context: RequestContext,
  options: { status: number; reason?: string },
): KubeApiError {
  // Each cause reads `conflict with "manager" using group/version` (or `with "manager"`) for one field.
  const byManager = new Map<string, string[]>();
  for (const conflict of conflicts) {
    const manager = /conflict with "([^"]*)"/.exec(conflict.message ?? "")?.[1] ?? "another manager";
    const fields = byManager.get(manager) ?? [];
    fields.push(conflict.field ?? "?");
    byManager.set(manager, fields);
  }
  const object = context.name
    ? `${context.resource ? qualifiedResource(context.resource) : ""} "${context.name}"`
    : "";
  const parts = [...byManager].map(([manager, fields]) => `conflict with "${manager}": ${fields.join(", ")}`);
  const count = conflicts.length;
  return new KubeApiError(
    `Apply failed with ${count} conflict${count === 1 ? "" : "s"}${object ? ` on ${object}` : ""}: ${
      parts.join("; ")
    }`,
    {
      ...options,
      hint: [
        `Another field manager (${
          [...byManager.keys()].map((m) => `"${m}"`).join(", ")
        }) owns these fields. Either:`,
        "  * rerun with --force-conflicts to take ownership of the fields and overwrite them, or",
        "  * remove the fields from your manifest to leave them to the other manager, or",
        "  * set them to the value the other manager set, to share ownership.",
      ].join("\n"),
    },
  );
}
