/**
 * Request credentials from a resolved kubeconfig user: static and file tokens, basic auth,
 * impersonation, client certificates, and client-go exec credential plugins (with
 * `KUBERNETES_EXEC_INFO`, expiry-aware caching, and a fresh run after a 401).
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";
import type { ExecConfig, RestConfig } from "./config.ts";

/** What an exec plugin returned (`ExecCredential.status`). */
export interface ExecCredentialStatus {
  /** Bearer token. */
  token?: string;
  /** PEM client certificate. */
  clientCertificateData?: string;
  /** PEM client key. */
  clientKeyData?: string;
  /** RFC 3339 expiry; absent means valid for the life of the process. */
  expirationTimestamp?: string;
}

/** Credentials ready to attach to a request. */
export interface RequestCredentials {
  /** Headers: Authorization, Impersonate-*. */
  headers: Record<string, string>;
  /** TLS client identity, from the kubeconfig or an exec plugin. */
  clientCert?: { certPem: string; keyPem: string };
}

/** Options of {@link runExecPlugin}. */
export interface ExecPluginOptions {
  /** Kills the plugin and rejects with the signal's reason when it aborts (Ctrl-C). */
  signal?: AbortSignal;
  /** Kills the plugin after this many milliseconds; 0 or absent waits forever. */
  timeoutMs?: number;
}

/**
 * Runs a client-go exec credential plugin and returns the credential status. A plugin that does not
 * answer within `timeoutMs` is killed and the error names it.
 */
export async function runExecPlugin(
  exec: ExecConfig,
  config: Pick<RestConfig, "server" | "caPem" | "insecureSkipTlsVerify" | "tlsServerName" | "userName">,
  options: ExecPluginOptions = {},
): Promise<ExecCredentialStatus> {
  const apiVersion = exec.apiVersion ?? "client.authentication.k8s.io/v1";
  const spec: Record<string, unknown> = { interactive: false };
  if (exec.provideClusterInfo) {
    spec.cluster = {
      server: config.server,
      "certificate-authority-data": config.caPem ? btoa(config.caPem) : undefined,
      "insecure-skip-tls-verify": config.insecureSkipTlsVerify || undefined,
      "tls-server-name": config.tlsServerName,
    };
  }
  const env: Record<string, string> = {
    KUBERNETES_EXEC_INFO: JSON.stringify({ apiVersion, kind: "ExecCredential", spec }),
  };
  for (const entry of exec.env ?? []) env[entry.name] = entry.value;
  const timeoutMs = options.timeoutMs ?? 0;
  const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  const signals = [options.signal, timeout].filter((signal) => signal !== undefined);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(exec.command, {
      args: exec.args ?? [],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // Aborting kills the plugin (SIGTERM), so none outlives the request that waits for it.
      signal: signals.length ? AbortSignal.any(signals) : undefined,
    }).output();
  } catch (error) {
    options.signal?.throwIfAborted();
    const hint = exec.installHint?.trim();
    throw new ConfigError(
      `exec credential plugin "${exec.command}" of user "${config.userName}" could not run: ${
        (error as Error).message
      }`,
      { cause: error, hint },
    );
  }
  options.signal?.throwIfAborted();
  if (timeout?.aborted) {
    throw new ConfigError(
      `exec credential plugin "${exec.command}" of user "${config.userName}" did not answer within ${
        timeoutMs / 1000
      }s and was stopped`,
      { hint: "Raise --request-timeout, or check that the plugin can run without a terminal." },
    );
  }
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (!output.success) {
    throw new ConfigError(
      `exec credential plugin "${exec.command}" of user "${config.userName}" exited with code ${output.code}` +
        (stderr ? `: ${stderr}` : ""),
    );
  }
  let credential: { apiVersion?: string; kind?: string; status?: ExecCredentialStatus };
  try {
    credential = JSON.parse(new TextDecoder().decode(output.stdout));
  } catch (error) {
    throw new ConfigError(`exec credential plugin "${exec.command}" printed something other than JSON`, {
      cause: error,
    });
  }
  if (credential.kind !== "ExecCredential") {
    throw new ConfigError(
      `exec credential plugin "${exec.command}" printed kind "${credential.kind}", not ExecCredential`,
    );
  }
  if (credential.apiVersion !== apiVersion) {
    throw new ConfigError(
      `exec credential plugin "${exec.command}" answered with apiVersion ${credential.apiVersion}, but the kubeconfig asked for ${apiVersion}`,
    );
  }
  const status = credential.status ?? {};
  if (!status.token && !(status.clientCertificateData && status.clientKeyData)) {
    throw new ConfigError(
      `exec credential plugin "${exec.command}" returned neither a token nor a client certificate`,
    );
  }
  return status;
}

/** Options of {@link CredentialSource}. */
export interface CredentialSourceOptions {
  /** Aborts (and kills) a running exec plugin, e.g. on Ctrl-C. */
  signal?: AbortSignal;
}

/**
 * Produces request credentials for one RestConfig, caching exec plugin results until they expire.
 * An exec plugin gets the config's request timeout.
 */
export class CredentialSource {
  #config: RestConfig;
  #signal?: AbortSignal;
  #exec?: { status: ExecCredentialStatus; expires: number };
  #pending?: Promise<ExecCredentialStatus>;
  #fileToken?: { token: string; readAt: number };

  /** Creates a source for `config`. */
  constructor(config: RestConfig, options: CredentialSourceOptions = {}) {
    this.#config = config;
    this.#signal = options.signal;
  }

  /** Forgets cached plugin and file credentials, e.g. after the server answered 401. */
  invalidate(): void {
    this.#exec = undefined;
    this.#pending = undefined;
    this.#fileToken = undefined;
  }

  /** Whether invalidating can produce different credentials (exec plugins and token files). */
  get refreshable(): boolean {
    return Boolean(this.#config.auth.exec || this.#config.auth.tokenFile);
  }

  /** The credentials to send now. */
  async current(): Promise<RequestCredentials> {
    const auth = this.#config.auth;
    const headers: Record<string, string> = {};
    let clientCert = auth.certPem && auth.keyPem ? { certPem: auth.certPem, keyPem: auth.keyPem } : undefined;
    if (auth.token) headers.Authorization = `Bearer ${auth.token}`;
    else if (auth.tokenFile) headers.Authorization = `Bearer ${this.#readTokenFile(auth.tokenFile)}`;
    else if (auth.basic) {
      headers.Authorization = `Basic ${btoa(`${auth.basic.username}:${auth.basic.password}`)}`;
    }
    if (auth.exec && !auth.token && !auth.tokenFile) {
      const status = await this.#execStatus(auth.exec);
      if (status.token) headers.Authorization = `Bearer ${status.token}`;
      if (status.clientCertificateData && status.clientKeyData) {
        clientCert = { certPem: status.clientCertificateData, keyPem: status.clientKeyData };
      }
    }
    const invalid = headers.Authorization === undefined
      ? undefined
      : invalidHeaderValue(headers.Authorization);
    if (invalid) {
      // fetch would refuse it with an error that quotes the value: name where it came from instead.
      const source = auth.token
        ? `the token of user "${this.#config.userName}" in the kubeconfig`
        : auth.tokenFile
        ? `token file ${auth.tokenFile}`
        : auth.basic
        ? `the username and password of user "${this.#config.userName}" in the kubeconfig`
        : `the token exec credential plugin "${auth.exec?.command}" returned`;
      throw new ConfigError(`${source} is ${invalid}`);
    }
    if (auth.impersonate) {
      headers["Impersonate-User"] = auth.impersonate.user;
      // fetch joins repeated headers with commas, which the API server also accepts for groups.
      if (auth.impersonate.groups.length) headers["Impersonate-Group"] = auth.impersonate.groups.join(",");
    }
    return { headers, clientCert };
  }

  #readTokenFile(path: string): string {
    // client-go re-reads token files every minute so rotated service account tokens are picked up.
    const now = Date.now();
    if (this.#fileToken && now - this.#fileToken.readAt < 60_000) return this.#fileToken.token;
    try {
      const token = Deno.readTextFileSync(path).trim();
      this.#fileToken = { token, readAt: now };
      return token;
    } catch (error) {
      throw new ConfigError(`cannot read token file ${path}: ${(error as Error).message}`, { cause: error });
    }
  }

  async #execStatus(exec: ExecConfig): Promise<ExecCredentialStatus> {
    if (this.#exec && this.#exec.expires > Date.now()) return this.#exec.status;
    // Requests sent together (a watch and its list, port-forwards) share one run of the plugin.
    if (!this.#pending) {
      const run = runExecPlugin(exec, this.#config, {
        signal: this.#signal,
        timeoutMs: this.#config.timeoutMs,
      });
      this.#pending = run;
      run.catch(() => {}).finally(() => {
        if (this.#pending === run) this.#pending = undefined;
      });
    }
    const status = await this.#pending;
    const expires = status.expirationTimestamp ? Date.parse(status.expirationTimestamp) - 10_000 : Infinity;
    this.#exec = { status, expires };
    return status;
  }
}
