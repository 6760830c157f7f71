/**
 * Kubeconfig loading the way kubectl (client-go `clientcmd`) does it: the files named by `KUBECONFIG`
 * merged in order (the first file to define a cluster, user or context wins, and the first file that
 * sets `current-context` decides it), or only the file given with `--kubeconfig`, or
 * `~/.kube/config`; then `--context`, `--cluster`, `--user` and `--namespace` overrides; in-cluster
 * service-account configuration when no kubeconfig exists; and never a silent `localhost:8080`.
 *
 * client-node's `KubeConfig.loadFromDefault` differs from kubectl here: it throws on a name defined
 * in two files instead of keeping the first, lets later files override `current-context`, fails on
 * missing `KUBECONFIG` entries, does not resolve `tokenFile` and exec commands relative to their
 * file, and falls back to `http://localhost:8080`. So the files are merged here.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { ConfigError, UsageError } from "../errors.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "./request_timeout.ts";

export { DEFAULT_REQUEST_TIMEOUT_MS };

/** The directory kubelets mount a Pod's service account credentials into. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/** `clusters[].cluster` of a kubeconfig. */
export interface KubeconfigCluster {
  /** API server URL. */
  server?: string;
  /** Path of a PEM CA bundle. */
  "certificate-authority"?: string;
  /** Base64 of a PEM CA bundle. */
  "certificate-authority-data"?: string;
  /** Skip verifying the server certificate. */
  "insecure-skip-tls-verify"?: boolean;
  /** Server name expected in the server certificate. */
  "tls-server-name"?: string;
  /** Proxy URL for requests to this cluster. */
  "proxy-url"?: string;
}

/** `users[].user.exec`: a client-go credential plugin. */
export interface ExecConfig {
  /** `client.authentication.k8s.io/v1` or `v1beta1`. */
  apiVersion?: string;
  /** Program to run; relative paths with a separator are resolved against the kubeconfig's directory. */
  command: string;
  /** Arguments. */
  args?: string[];
  /** Extra environment variables. */
  env?: { name: string; value: string }[] | null;
  /** Whether the plugin may read standard input: Never, IfAvailable or Always. */
  interactiveMode?: string;
  /** Pass the cluster's details in `KUBERNETES_EXEC_INFO`. */
  provideClusterInfo?: boolean;
  /** Shown when the command is not found. */
  installHint?: string;
}

/** `users[].user` of a kubeconfig. */
export interface KubeconfigUser {
  /** Path of a PEM client certificate. */
  "client-certificate"?: string;
  /** Base64 of a PEM client certificate. */
  "client-certificate-data"?: string;
  /** Path of a PEM client key. */
  "client-key"?: string;
  /** Base64 of a PEM client key. */
  "client-key-data"?: string;
  /** Bearer token. */
  token?: string;
  /** File holding a bearer token, re-read as it changes. */
  tokenFile?: string;
  /** Basic auth user name. */
  username?: string;
  /** Basic auth password. */
  password?: string;
  /** User to impersonate. */
  as?: string;
  /** Groups to impersonate. */
  "as-groups"?: string[];
  /** Credential plugin. */
  exec?: ExecConfig;
  /** Legacy auth provider (only `oidc` with an `id-token` is honoured). */
  "auth-provider"?: { name?: string; config?: Record<string, string> };
}

/** `contexts[].context` of a kubeconfig. */
export interface KubeconfigContext {
  /** Cluster name. */
  cluster?: string;
  /** User name. */
  user?: string;
  /** Default namespace. */
  namespace?: string;
}

/** A kubeconfig after merging: every name once, with the file it came from. */
export interface MergedKubeconfig {
  /** Files read, in order (files that do not exist are left out). */
  files: string[];
  /** The `current-context` of the first file that sets one. */
  currentContext?: string;
  /** Clusters by name. */
  clusters: Map<string, KubeconfigCluster>;
  /** Users by name. */
  users: Map<string, KubeconfigUser>;
  /** Contexts by name. */
  contexts: Map<string, KubeconfigContext>;
}

/** Where configuration comes from: flags and environment. */
export interface ConfigOptions {
  /** `--kubeconfig`: only this file is read, and it must exist. */
  kubeconfig?: string;
  /** `--context`. */
  context?: string;
  /** `--cluster`. */
  cluster?: string;
  /** `--user`. */
  user?: string;
  /** `-n, --namespace`. */
  namespace?: string;
  /** `--request-timeout`, e.g. `5s`, `1m`, `0`. */
  requestTimeout?: string;
  /** Environment lookup (default `Deno.env.get`). */
  env?: (name: string) => string | undefined;
  /** Directory of the in-cluster service account files (default {@link SERVICE_ACCOUNT_DIR}). */
  serviceAccountDir?: string;
}

/** How requests authenticate, before plugins run. */
export interface AuthConfig {
  /** Static bearer token. */
  token?: string;
  /** File holding the bearer token (absolute). */
  tokenFile?: string;
  /** Basic auth. */
  basic?: { username: string; password: string };
  /** PEM client certificate. */
  certPem?: string;
  /** PEM client key. */
  keyPem?: string;
  /** Credential plugin, with its command resolved. */
  exec?: ExecConfig;
  /** `Impersonate-User` and `Impersonate-Group` headers. */
  impersonate?: { user: string; groups: string[] };
}

/** Everything needed to talk to one API server as one user. */
export interface RestConfig {
  /** API server URL without a trailing slash. */
  server: string;
  /** PEM CA bundle, when the cluster sets one. */
  caPem?: string;
  /** Skip verifying the server certificate. */
  insecureSkipTlsVerify: boolean;
  /** Expected server name in the certificate. */
  tlsServerName?: string;
  /** Proxy URL. */
  proxyUrl?: string;
  /** Authentication. */
  auth: AuthConfig;
  /** The namespace requests default to. */
  namespace: string;
  /** Whether the namespace was given with `-n` (rather than from the context or the default). */
  namespaceExplicit: boolean;
  /** Context, cluster and user names used (`in-cluster` for service-account configuration). */
  contextName: string;
  /** Cluster name. */
  clusterName: string;
  /** User name. */
  userName: string;
  /** Per-request timeout in milliseconds; 0 waits forever. */
  timeoutMs: number;
}

interface RawKubeconfig {
  "current-context"?: string;
  clusters?: { name?: string; cluster?: KubeconfigCluster }[] | null;
  users?: { name?: string; user?: KubeconfigUser }[] | null;
  contexts?: { name?: string; context?: KubeconfigContext }[] | null;
}

/** The kubeconfig files kubectl reads: `--kubeconfig`, else every `KUBECONFIG` entry, else ~/.kube/config. */
export function kubeconfigFiles(options: Pick<ConfigOptions, "kubeconfig" | "env"> = {}): string[] {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  if (options.kubeconfig) return [options.kubeconfig];
  const list = env("KUBECONFIG");
  if (list) return [...new Set(list.split(":").filter((path) => path !== ""))];
  const home = env("HOME");
  return home ? [`${home}/.kube/config`] : [];
}

/**
 * Reads and merges kubeconfig files as kubectl does. Files in `KUBECONFIG` that do not exist are
 * skipped; a file given with `--kubeconfig` must exist; a file that exists but does not parse is an error.
 */
export function loadKubeconfig(options: Pick<ConfigOptions, "kubeconfig" | "env"> = {}): MergedKubeconfig {
  const merged: MergedKubeconfig = { files: [], clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of kubeconfigFiles(options)) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && !options.kubeconfig) continue;
      throw new ConfigError(`cannot read kubeconfig ${file}: ${(error as Error).message}`, { cause: error });
    }
    let raw: RawKubeconfig;
    try {
      raw = (parseYaml(text) ?? {}) as RawKubeconfig;
    } catch (error) {
      throw new ConfigError(`kubeconfig ${file} is not valid YAML: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (typeof raw !== "object" || Array.isArray(raw)) {
      throw new ConfigError(`kubeconfig ${file} is not a kubeconfig: expected a mapping at the top`);
    }
    merged.files.push(file);
    mergeFile(merged, raw, dirname(file));
  }
  return merged;
}

function mergeFile(merged: MergedKubeconfig, raw: RawKubeconfig, dir: string): void {
  if (!merged.currentContext && raw["current-context"]) merged.currentContext = raw["current-context"];
  for (const entry of raw.clusters ?? []) {
    if (!entry?.name || merged.clusters.has(entry.name)) continue;
    const cluster = { ...(entry.cluster ?? {}) };
    if (cluster["certificate-authority"]) {
      cluster["certificate-authority"] = resolvePath(dir, cluster["certificate-authority"]);
    }
    merged.clusters.set(entry.name, cluster);
  }
  for (const entry of raw.users ?? []) {
    if (!entry?.name || merged.users.has(entry.name)) continue;
    const user = { ...(entry.user ?? {}) };
    for (const key of ["client-certificate", "client-key", "tokenFile"] as const) {
      if (user[key]) user[key] = resolvePath(dir, user[key]);
    }
    // client-go resolves the exec command only when it is a path, not a name looked up in PATH.
    if (user.exec?.command?.includes("/")) {
      user.exec = { ...user.exec, command: resolvePath(dir, user.exec.command) };
    }
    merged.users.set(entry.name, user);
  }
  for (const entry of raw.contexts ?? []) {
    if (!entry?.name || merged.contexts.has(entry.name)) continue;
    merged.contexts.set(entry.name, { ...(entry.context ?? {}) });
  }
}

function dirname(path: string): string {
  const index = path.lastIndexOf("/");
  if (index < 0) return Deno.cwd();
  return index === 0 ? "/" : path.slice(0, index);
}

function resolvePath(dir: string, path: string): string {
  if (path.startsWith("/")) return path;
  const base = dir.startsWith("/") ? dir : `${Deno.cwd()}/${dir}`;
  return `${base}/${path}`.replace(/\/\.\//g, "/");
}

/**
 * Resolves the configuration a command uses: kubeconfig with overrides, or in-cluster
 * configuration when no kubeconfig exists. Throws {@link ConfigError} when there is none.
 */
export function resolveConfig(options: ConfigOptions = {}): RestConfig {
  const env = options.env ?? ((name: string) => Deno.env.get(name));
  const timeoutMs = parseTimeout(options.requestTimeout);
  const merged = loadKubeconfig({ kubeconfig: options.kubeconfig, env });
  const empty = merged.clusters.size === 0 && merged.contexts.size === 0 && merged.users.size === 0;
  if (empty && !options.kubeconfig && !options.cluster && !options.context) {
    const inCluster = inClusterConfig({ ...options, env }, timeoutMs);
    if (inCluster) return inCluster;
    const where = kubeconfigFiles({ env }).join(", ") || "~/.kube/config";
    throw new ConfigError(
      `no Kubernetes configuration found: no kubeconfig at ${where} and not running in a cluster`,
      {
        hint:
          "Set KUBECONFIG to a kubeconfig file, pass --kubeconfig FILE, or create ~/.kube/config (for example with your cluster's 'get-credentials' command).",
      },
    );
  }
  const contextName = options.context ?? merged.currentContext ?? "";
  let context: KubeconfigContext = {};
  if (contextName) {
    const found = merged.contexts.get(contextName);
    if (!found) {
      const source = options.context ? "--context" : "current-context";
      throw new ConfigError(`context "${contextName}" does not exist (set by ${source})`, {
        hint: `Contexts in ${merged.files.join(", ")}: ${[...merged.contexts.keys()].join(", ") || "none"}.`,
      });
    }
    context = found;
  }
  const clusterName = options.cluster ?? context.cluster ?? "";
  const userName = options.user ?? context.user ?? "";
  if (!clusterName) {
    throw new ConfigError(
      contextName
        ? `context "${contextName}" names no cluster`
        : `no current context is set in ${merged.files.join(", ")}`,
      { hint: "Pass --context NAME, or run 'kubectl config use-context NAME'." },
    );
  }
  const cluster = merged.clusters.get(clusterName);
  if (!cluster) {
    throw new ConfigError(`cluster "${clusterName}" does not exist in ${merged.files.join(", ")}`);
  }
  if (!cluster.server) throw new ConfigError(`cluster "${clusterName}" has no server URL`);
  let user: KubeconfigUser = {};
  if (userName) {
    const found = merged.users.get(userName);
    if (!found) throw new ConfigError(`user "${userName}" does not exist in ${merged.files.join(", ")}`);
    user = found;
  }
  const namespace = options.namespace || context.namespace || "default";
  return {
    server: cluster.server.replace(/\/+$/, ""),
    caPem: pemFrom(
      cluster["certificate-authority"],
      cluster["certificate-authority-data"],
      "certificate-authority",
    ),
    insecureSkipTlsVerify: cluster["insecure-skip-tls-verify"] === true,
    tlsServerName: cluster["tls-server-name"],
    proxyUrl: cluster["proxy-url"],
    auth: authFromUser(user, userName),
    namespace,
    namespaceExplicit: Boolean(options.namespace),
    contextName,
    clusterName,
    userName,
    timeoutMs,
  };
}

function authFromUser(user: KubeconfigUser, name: string): AuthConfig {
  const auth: AuthConfig = {};
  auth.certPem = pemFrom(user["client-certificate"], user["client-certificate-data"], "client-certificate");
  auth.keyPem = pemFrom(user["client-key"], user["client-key-data"], "client-key");
  if (Boolean(auth.certPem) !== Boolean(auth.keyPem)) {
    throw new ConfigError(
      `user "${name}" has a client certificate without a key, or a key without a certificate`,
    );
  }
  if (user.token) auth.token = user.token;
  else if (user.tokenFile) auth.tokenFile = user.tokenFile;
  const idToken = user["auth-provider"]?.name === "oidc"
    ? user["auth-provider"].config?.["id-token"]
    : undefined;
  if (!auth.token && idToken) auth.token = idToken;
  if (user.username) auth.basic = { username: user.username, password: user.password ?? "" };
  if (user.exec) auth.exec = user.exec;
  if (user.as) auth.impersonate = { user: user.as, groups: user["as-groups"] ?? [] };
  return auth;
}

function pemFrom(file: string | undefined, data: string | undefined, field: string): string | undefined {
  if (data) {
    try {
      return new TextDecoder().decode(
        Uint8Array.from(atob(data.replace(/\s+/g, "")), (c) => c.charCodeAt(0)),
      );
    } catch (error) {
      throw new ConfigError(`${field}-data is not valid base64`, { cause: error });
    }
  }
  if (file) {
    try {
      return Deno.readTextFileSync(file);
    } catch (error) {
      throw new ConfigError(`cannot read ${field} ${file}: ${(error as Error).message}`, { cause: error });
    }
  }
  return undefined;
}

function inClusterConfig(options: ConfigOptions, timeoutMs: number): RestConfig | undefined {
  const env = options.env!;
  const host = env("KUBERNETES_SERVICE_HOST");
  const port = env("KUBERNETES_SERVICE_PORT");
  if (!host || !port) return undefined;
  const dir = options.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const tokenFile = `${dir}/token`;
  try {
    Deno.statSync(tokenFile);
  } catch {
    return undefined;
  }
  let caPem: string | undefined;
  try {
    caPem = Deno.readTextFileSync(`${dir}/ca.crt`);
  } catch {
    caPem = undefined;
  }
  let namespace = options.namespace;
  if (!namespace) namespace = env("POD_NAMESPACE");
  if (!namespace) {
    try {
      namespace = Deno.readTextFileSync(`${dir}/namespace`).trim();
    } catch {
      namespace = undefined;
    }
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    caPem,
    insecureSkipTlsVerify: false,
    auth: { tokenFile },
    namespace: namespace || "default",
    namespaceExplicit: Boolean(options.namespace),
    contextName: "in-cluster",
    clusterName: "in-cluster",
    userName: "in-cluster",
    timeoutMs,
  };
}

/**
 * Parses kubectl's `--request-timeout`: a plain number of seconds, or a Go duration such as `5s`,
 * `1m30s`, `250ms`; `0` means no timeout. Without the flag, {@link DEFAULT_REQUEST_TIMEOUT_MS}.
 */
export function parseTimeout(value: string | undefined): number {
  if (value === undefined || value === "") return DEFAULT_REQUEST_TIMEOUT_MS;
  if (value === "0") return 0;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const units: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 0.001,
    "µs": 0.001,
    ns: 1e-6,
  };
  const pattern = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (const match of value.matchAll(pattern)) {
    total += Number(match[1]) * units[match[2]];
    consumed += match[0].length;
  }
  if (consumed !== value.length || consumed === 0) {
    throw new UsageError(`invalid --request-timeout "${value}": use a duration such as 5s, 1m or 0`);
  }
  return Math.ceil(total);
}
