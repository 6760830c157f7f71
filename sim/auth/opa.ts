/**
 * The real Open Policy Agent behind `opa` authorization rules: one `opa run --server` process per Rego
 * version, listening on a UNIX socket in a private temporary directory (no port to race for, nothing on
 * the network), with the policies loaded once through OPA's policy API and evaluated per request through
 * its data API.
 *
 * Authorino wraps an inline policy as `package authorino.authz["<uid>"]` plus `default allow = false`
 * after removing any `package` line, and reads the rules of that package; {@linkcode wrapRego} does the
 * same so the rego of an AuthPolicy behaves here as it does in the cluster.
 *
 * @module
 */
import { AuthEvalError } from "./types.ts";

/** The Rego syntax a policy is written in (AuthPolicy `opa.version`; Authorino's default is `v0`). */
export type RegoVersion = "v0" | "v1";

/** A location in the rego as the AuthPolicy wrote it. */
export interface RegoPosition {
  /** 1-based line. */
  line: number;
  /** 1-based column (0 when OPA gives none). */
  column: number;
}

/** Rego that OPA refuses to compile, with OPA's message and where. */
export class OpaCompileError extends Error {
  /** Stable code. */
  readonly code = "opa_compile";
  /** Where in the rule's rego, when OPA gives a position inside it. */
  readonly position?: RegoPosition;
  /** An error with OPA's `message` at `position`. */
  constructor(message: string, position?: RegoPosition) {
    super(message);
    this.name = "OpaCompileError";
    this.position = position;
  }
}

/** Options of an {@linkcode OpaPool}. */
export interface OpaPoolOptions {
  /** The `opa` binary; looked up on PATH when absent. */
  opaPath?: string;
  /** Bound of one evaluation in milliseconds (default 5000). */
  evalTimeoutMs?: number;
  /** Bound of a process start in milliseconds (default 15000). */
  startTimeoutMs?: number;
}

/** The rules OPA compiled for one policy. */
export interface LoadedPolicy {
  /** The policy's id in OPA. */
  uid: string;
  /** The rego as written. */
  rego: string;
  /** Its syntax. */
  version: RegoVersion;
  /** The process generation that compiled it (a restarted process compiles it again). */
  generation: number;
  /** The data path of the policy's package below `data`, e.g. `authorino/authz/<uid>`. */
  dataPath: string;
  /** Names of the package's rules in source order, `allow` first (Authorino's `allValues` bindings). */
  rules: string[];
}

const PACKAGE_LINE = /[\t\n\f\r ]*package.*[;\n]+/g;

/**
 * Authorino's wrapping of an inline policy: removes `package` lines (as its regular expression does, even
 * one inside the body), then prepends the package named after `uid` and `default allow = false`.
 */
export function wrapRego(
  uid: string,
  rego: string,
): { module: string; headerLines: number; cleaned: boolean } {
  const cleanedRego = rego.replace(PACKAGE_LINE, "");
  return {
    module: `package authorino.authz["${uid}"]\ndefault allow = false\n${cleanedRego}`,
    headerLines: 2,
    cleaned: cleanedRego !== rego,
  };
}

/** The `opa` binary: `opaPath` when it is a file, else the first `opa` on PATH; undefined when none. */
export function findOpa(opaPath?: string): string | undefined {
  if (opaPath !== undefined) return isFile(opaPath) ? opaPath : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    const candidate = `${dir}/opa`;
    if (isFile(candidate)) return candidate;
  }
  return undefined;
}

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/**
 * Runs opa (`$0` with the arguments after it) so that it ends when the process that started it does,
 * however that one ends (a `kill -9`, a crash or the tests' SIGKILL included): a watcher reads the
 * shell's stdin, a pipe only the parent writes to, and kills opa at its end of file. Without it an
 * opa server outlives a killed `kubectl mcp simulate` forever. The shell exits with opa's status, and
 * removes the socket's directory.
 */
const LIFELINE = [
  "exec 3<&0 </dev/null",
  '"$0" "$@" 3<&- &',
  "opa=$!",
  '{ cat <&3 >/dev/null; kill -9 "$opa" 2>/dev/null; } &',
  "watcher=$!",
  // opa keeps the parent's stderr; the shell's own notes ("Killed") would meet a closed pipe and end it.
  "exec 3<&- 2>/dev/null",
  `trap 'kill -9 "$opa" 2>/dev/null' TERM INT HUP`,
  'wait "$opa"',
  "status=$?",
  // An opa that ended by itself was reaped: its number must not be killed later, whoever has it then.
  'kill "$watcher" 2>/dev/null',
  // The socket's private directory (the shell's working directory; $PWD is the parent's) goes too.
  "dir=$(pwd -P)",
  'case "$dir" in */kubectl-mcp-opa-*) cd / && rm -rf -- "$dir" ;; esac',
  'exit "$status"',
].join("\n");

interface OpaProcess {
  generation: number;
  /** The opa process, or the shell that holds its lifeline (see {@linkcode LIFELINE}). */
  child: Deno.ChildProcess;
  /** Whether closing `child`'s stdin ends opa. */
  lifeline: boolean;
  exited: boolean;
  client: Deno.HttpClient;
  dir: string;
  stderr: Promise<string>;
}

/**
 * `opa run --server` processes, one per Rego version, started on first use and stopped by
 * {@linkcode OpaPool.close}. Loading compiles a policy once; evaluating is one loopback-free HTTP call
 * over a UNIX socket.
 */
export class OpaPool {
  /** The binary this pool runs, or undefined when there is none (opa rules are then unsupported). */
  readonly binary: string | undefined;
  readonly #evalTimeoutMs: number;
  readonly #startTimeoutMs: number;
  readonly #processes = new Map<RegoVersion, Promise<OpaProcess>>();
  readonly #loaded = new Map<string, Promise<LoadedPolicy>>();
  #generation = 0;
  #closed = false;

  /** A pool running `options.opaPath` (or `opa` from PATH); starts nothing yet. */
  constructor(options: OpaPoolOptions = {}) {
    this.binary = findOpa(options.opaPath);
    this.#evalTimeoutMs = options.evalTimeoutMs ?? 5000;
    this.#startTimeoutMs = options.startTimeoutMs ?? 15000;
  }

  /**
   * Compiles `rego` wrapped as Authorino wraps it, in the process for `version`; throws
   * {@linkcode OpaCompileError} with OPA's message when OPA refuses it. Loading the same policy twice
   * compiles it once.
   */
  load(uid: string, rego: string, version: RegoVersion): Promise<LoadedPolicy> {
    const key = `${version}/${uid}`;
    let loaded = this.#loaded.get(key);
    if (!loaded) {
      loaded = this.#load(uid, rego, version);
      this.#loaded.set(key, loaded);
      // A failed load is not cached: the next compile of the same rego reports the error again.
      loaded.catch(() => this.#loaded.delete(key));
    }
    return loaded;
  }

  async #load(uid: string, rego: string, version: RegoVersion): Promise<LoadedPolicy> {
    const { module, headerLines, cleaned } = wrapRego(uid, rego);
    const proc = await this.#process(version);
    const res = await this.#request(proc, "PUT", `/v1/policies/${uid}`, { body: module });
    const answer = await readJson(res);
    if (!res.ok) {
      const { first, message } = opaError(answer, res.status);
      const row = Number(first?.location?.row);
      const col = Number(first?.location?.col);
      const position = !cleaned && Number.isFinite(row) && row > headerLines
        ? { line: row - headerLines, column: Number.isFinite(col) ? col : 0 }
        : undefined;
      throw new OpaCompileError(first?.code ? `${first.code}: ${message}` : message, position);
    }
    const info = await this.#request(proc, "GET", `/v1/policies/${uid}`);
    const ast = await readJson(info);
    const rules = ["allow"];
    for (const rule of ast?.result?.ast?.rules ?? []) {
      const name = ruleName(rule?.head);
      if (name && !rules.includes(name)) rules.push(name);
    }
    return { uid, rego, version, generation: proc.generation, dataPath: `authorino/authz/${uid}`, rules };
  }

  /**
   * The value of the package document at `dataPath` for `input` (every rule's value, as Authorino's
   * `object.get(data.authorino.authz["<uid>"], ...)` queries evaluate it). Throws
   * {@linkcode AuthEvalError} `opa_failed` on an evaluation error or timeout.
   */
  async evaluate(
    policy: LoadedPolicy,
    input: unknown,
    signal?: AbortSignal,
  ): Promise<Record<string, unknown>> {
    const proc = await this.#process(policy.version);
    if (proc.generation !== policy.generation) {
      policy = await this.load(policy.uid, policy.rego, policy.version);
    }
    let res: Response;
    try {
      res = await this.#request(proc, "POST", `/v1/data/${policy.dataPath}`, {
        body: JSON.stringify({ input }),
        signal,
        timeoutMs: this.#evalTimeoutMs,
      });
    } catch (err) {
      throw new AuthEvalError("opa_failed", `OPA evaluation failed: ${errorText(err)}`, { cause: err });
    }
    const answer = await readJson(res);
    if (!res.ok) {
      const first = Array.isArray(answer?.errors) ? answer.errors[0] : undefined;
      throw new AuthEvalError(
        "opa_failed",
        String(first?.message ?? answer?.message ?? `OPA answered ${res.status}`),
      );
    }
    const result = answer?.result;
    return result && typeof result === "object" && !Array.isArray(result) ? result : {};
  }

  /** Stops every process this pool started and removes their sockets. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const processes = [...this.#processes.values()];
    this.#processes.clear();
    this.#loaded.clear();
    await Promise.all(processes.map(async (started) => {
      let proc: OpaProcess;
      try {
        proc = await started;
      } catch {
        return;
      }
      await stopProcess(proc);
    }));
  }

  async #process(version: RegoVersion): Promise<OpaProcess> {
    if (this.#closed) throw new AuthEvalError("opa_failed", "The OPA pool is closed");
    const current = this.#processes.get(version);
    const proc = current && await current.catch(() => undefined);
    if (proc && !proc.exited) return proc;
    if (proc?.exited && this.#processes.get(version) === current) {
      // The process died: start another and compile its policies again on their next use.
      this.#processes.delete(version);
      for (const key of [...this.#loaded.keys()]) if (key.startsWith(`${version}/`)) this.#loaded.delete(key);
      await stopProcess(proc);
    }
    let started = this.#processes.get(version);
    if (!started) {
      started = this.#start(version);
      this.#processes.set(version, started);
      started.catch(() => {
        if (this.#processes.get(version) === started) this.#processes.delete(version);
      });
    }
    return started;
  }

  async #start(version: RegoVersion): Promise<OpaProcess> {
    if (!this.binary) throw new AuthEvalError("opa_failed", "No opa binary: put opa on PATH");
    const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-opa-" });
    await Deno.chmod(dir, 0o700);
    const socket = `${dir}/opa.sock`;
    const args = [
      "run",
      "--server",
      "--addr",
      `unix://${socket}`,
      "--log-level",
      "error",
      "--skip-version-check",
      "--shutdown-grace-period",
      "0",
    ];
    if (version === "v0") args.push("--v0-compatible");
    const lifeline = Deno.build.os !== "windows";
    const child = new Deno.Command(lifeline ? "/bin/sh" : this.binary, {
      args: lifeline ? ["-c", LIFELINE, this.binary, ...args] : args,
      stdin: lifeline ? "piped" : "null",
      stdout: "null",
      stderr: "piped",
      cwd: dir,
    }).spawn();
    const stderr = new Response(child.stderr).text().catch(() => "");
    const client = Deno.createHttpClient(
      { proxy: { transport: "unix", path: socket } } as Deno.CreateHttpClientOptions,
    );
    const proc: OpaProcess = {
      generation: ++this.#generation,
      child,
      lifeline,
      exited: false,
      client,
      dir,
      stderr,
    };
    child.status.then(() => proc.exited = true);
    const deadline = Date.now() + this.#startTimeoutMs;
    for (let attempt = 0; Date.now() < deadline && !proc.exited && !this.#closed; attempt++) {
      try {
        const res = await this.#request(proc, "GET", "/health", { timeoutMs: 1000 });
        await res.body?.cancel();
        if (res.ok) {
          if (this.#closed) break;
          return proc;
        }
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, Math.min(20 * 2 ** attempt, 200)));
    }
    await stopProcess(proc);
    const why = proc.exited
      ? `it exited: ${(await stderr).trim().slice(0, 500)}`
      : "it did not answer in time";
    throw new AuthEvalError("opa_failed", `OPA (${this.binary}) did not start: ${why}`);
  }

  #request(
    proc: OpaProcess,
    method: string,
    path: string,
    options: { body?: string; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Response> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? this.#startTimeoutMs);
    return fetch(`http://opa${path}`, {
      method,
      body: options.body,
      headers: options.body === undefined ? undefined : { "content-type": "application/json" },
      client: proc.client,
      signal: options.signal ? AbortSignal.any([options.signal, timeout]) : timeout,
    });
  }
}

function ruleName(head: { name?: unknown; ref?: { type?: string; value?: unknown }[] } | undefined): string {
  if (typeof head?.name === "string" && head.name !== "") return head.name;
  // A one-part ref head (`x if ...` in v1) carries its name only in `ref`.
  const ref = head?.ref;
  if (Array.isArray(ref) && ref.length === 1 && ref[0]?.type === "var" && typeof ref[0].value === "string") {
    return ref[0].value;
  }
  return "";
}

// OPA's error answer: `{code, message, errors: [{code, message, location: {row, col}}]}`.
// deno-lint-ignore no-explicit-any
function opaError(answer: any, status: number): { first: any; message: string } {
  const first = Array.isArray(answer?.errors) ? answer.errors[0] : undefined;
  return { first, message: String(first?.message ?? answer?.message ?? `OPA answered ${status}`) };
}

// deno-lint-ignore no-explicit-any
async function readJson(res: Response): Promise<any> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** How long a wrapped opa gets to end once its lifeline is cut, before its shell is killed. */
const LIFELINE_GRACE_MS = 2000;

async function stopProcess(proc: OpaProcess): Promise<void> {
  const kill = () => {
    try {
      proc.child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  };
  let lingering: ReturnType<typeof setTimeout> | undefined;
  if (proc.lifeline) {
    // Cutting the lifeline ends opa, and then its shell (also one whose opa died); one that lingers is killed.
    await proc.child.stdin.close().catch(() => {});
    lingering = setTimeout(kill, LIFELINE_GRACE_MS);
  } else {
    kill();
  }
  await proc.child.status;
  clearTimeout(lingering);
  await proc.stderr;
  proc.client.close();
  await Deno.remove(proc.dir, { recursive: true }).catch(() => {});
}

function errorText(err: unknown): string {
  if (err instanceof DOMException && err.name === "TimeoutError") return "timed out";
  return err instanceof Error ? err.message : String(err);
}
