/**
 * A real Kubernetes control plane for tests: etcd, kube-apiserver, kube-controller-manager and a test
 * kubelet built from pinned upstream modules (see README.md beside this file), started on loopback
 * ports by the `testenv` supervisor and stopped with every process it started.
 *
 * ```ts
 * import { startCluster } from "./cluster/cluster.ts";
 *
 * Deno.test("lists CRDs", async () => {
 *   await using cluster = await startCluster();
 *   const { code, stdout } = await cluster.kubectl(["get", "crds", "-o", "name"]);
 * });
 * ```
 *
 * @module
 */

import { processRunning } from "../helpers/processes.ts";

const CLUSTER_DIR = new URL(".", import.meta.url).pathname;
const BIN_DIR = `${CLUSTER_DIR}bin`;
const PROJECT_CRDS_DIR = new URL("../../crds/", import.meta.url).pathname;

/** Pod annotation prefix that maps a container port to a loopback address for port-forward. */
export const FORWARD_ANNOTATION_PREFIX = "test.kubectl-mcp.io/forward-";

/** Environment variable naming the directory of a running cluster that {@link sharedCluster} attaches to. */
export const SHARED_CLUSTER_ENV = "KUBECTL_MCP_TEST_CLUSTER";

/** Options of {@link startCluster}. */
export interface StartClusterOptions {
  /**
   * Install CRDs: the Gateway API standard CRDs, the Kuadrant AuthPolicy and RateLimitPolicy CRDs,
   * and the project's own `crds/*.yaml` (whatever files exist). Default true.
   */
  crds?: boolean;
  /** More CRD manifest files or directories to install, also when `crds` is false. */
  extraCrds?: string[];
  /**
   * Run kube-controller-manager (namespaces, service accounts, Deployments, EndpointSlices, garbage
   * collection, aggregated RBAC roles). Default true; false starts about a second faster.
   */
  controllerManager?: boolean;
  /** Keep the working directory (logs, certificates, kubeconfigs) after stop. Default false. */
  keepDir?: boolean;
  /** Working directory; default a new directory under the system temporary directory. */
  dir?: string;
  /** Run `build.sh` first, which is a quick no-op when the binaries are up to date. Default true. */
  build?: boolean;
  /** How long to wait for the cluster to be ready, in milliseconds. Default 180000. */
  timeoutMs?: number;
}

/** Options of {@link TestCluster.kubectl}. */
export interface KubectlOptions {
  /** Run as the limited user (read-only in namespace `limited`) instead of the admin. */
  limited?: boolean;
  /** Kubeconfig to use instead of the admin's or the limited user's. */
  kubeconfig?: string;
  /** Text written to kubectl's standard input. */
  stdin?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Abort signal that kills kubectl. */
  signal?: AbortSignal;
}

/** Outcome of one kubectl run. */
export interface KubectlResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  stdout: string;
  /** Standard error. */
  stderr: string;
}

/** A running test cluster. */
export interface TestCluster extends AsyncDisposable {
  /** Kubeconfig of a client certificate in `system:masters`. */
  readonly adminKubeconfig: string;
  /** Kubeconfig of {@link limitedUser}, who may only read, and only in {@link limitedNamespace}. */
  readonly limitedKubeconfig: string;
  /** User name of the limited kubeconfig (`limited-user`). */
  readonly limitedUser: string;
  /** The namespace the limited user may read (`limited`). */
  readonly limitedNamespace: string;
  /** API server URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** The kubectl binary built with the cluster, same version as the server. */
  readonly kubectlPath: string;
  /** Working directory: `admin.kubeconfig`, `limited.kubeconfig`, `pki/`, `logs/`. */
  readonly dir: string;
  /** Name of the test kubelet's Node; Pods without `spec.nodeName` are bound to it. */
  readonly nodeName: string;
  /** CA certificate that signed the server's and the clients' certificates. */
  readonly caFile: string;
  /** Names of the CRDs installed at start. */
  readonly crds: readonly string[];
  /** Process ids of the supervisor (`testenv`) and of each component. */
  readonly pids: Readonly<Record<string, number>>;
  /** Milliseconds from `testenv up` to a ready cluster, as measured by the supervisor. */
  readonly startupMs: number;
  /** Runs the cluster's kubectl with the admin kubeconfig (or another, see {@link KubectlOptions}). */
  kubectl(args: string[], options?: KubectlOptions): Promise<KubectlResult>;
  /** `kubectl apply -f -` of the given manifest; throws with kubectl's error output on failure. */
  apply(manifest: string, options?: KubectlOptions): Promise<string>;
  /**
   * Stops every process of the cluster and waits until they are gone; removes the working directory
   * unless `keepDir`. Idempotent. A no-op for a cluster this process attached to but did not start.
   */
  stop(): Promise<void>;
}

interface ClusterJson {
  dir: string;
  server: string;
  adminKubeconfig: string;
  limitedKubeconfig: string;
  limitedUser: string;
  limitedNamespace: string;
  nodeName: string;
  caFile: string;
  binDir: string;
  supervisorPid: number;
  pids: Record<string, number>;
  crds: string[] | null;
  startupMillis: number;
}

const decoder = new TextDecoder();

/**
 * Builds (or checks) the cluster's binaries with `build.sh`; a no-op taking well under a second when
 * they are up to date, many minutes on a fresh machine.
 */
export async function buildClusterBinaries(options: { force?: boolean } = {}): Promise<void> {
  const { code, stdout, stderr } = await new Deno.Command("bash", {
    args: [`${CLUSTER_DIR}build.sh`, ...(options.force ? ["--force"] : [])],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = decoder.decode(stdout);
  if (code !== 0) {
    throw new Error(`test/cluster/build.sh failed (exit ${code}):\n${out}${decoder.decode(stderr)}`);
  }
  if (!out.includes("up to date")) console.error(out.trimEnd());
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function crdSources(options: StartClusterOptions): Promise<string[]> {
  const sources: string[] = [];
  if (options.crds ?? true) {
    sources.push(`${BIN_DIR}/crds`);
    if (await exists(PROJECT_CRDS_DIR)) {
      for await (const entry of Deno.readDir(PROJECT_CRDS_DIR)) {
        if (entry.isFile && /\.ya?ml$/.test(entry.name)) sources.push(`${PROJECT_CRDS_DIR}${entry.name}`);
      }
    }
  }
  sources.push(...(options.extraCrds ?? []));
  return sources;
}

function makeCluster(info: ClusterJson, owned: boolean, keepDir: boolean): TestCluster {
  const kubectlPath = `${info.binDir}/kubectl`;
  let stopped: Promise<void> | undefined;
  const kubectl = async (args: string[], options: KubectlOptions = {}): Promise<KubectlResult> => {
    const kubeconfig = options.kubeconfig ??
      (options.limited ? info.limitedKubeconfig : info.adminKubeconfig);
    const child = new Deno.Command(kubectlPath, {
      args: [`--kubeconfig=${kubeconfig}`, ...args],
      stdin: options.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
      env: options.env,
      signal: options.signal,
    }).spawn();
    if (options.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(options.stdin));
      await writer.close();
    }
    const { code, stdout, stderr } = await child.output();
    return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
  };
  const stop = (): Promise<void> => {
    if (!owned) return Promise.resolve();
    stopped ??= (async () => {
      const testenv = `${info.binDir}/testenv`;
      const { code, stderr } = await new Deno.Command(testenv, {
        args: ["down", "--dir", info.dir],
        stdout: "null",
        stderr: "piped",
      }).output();
      const left = [info.supervisorPid, ...Object.values(info.pids)].filter(processRunning);
      if (code !== 0 || left.length > 0) {
        for (const pid of left) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch { /* already gone */ }
        }
        throw new Error(
          `stopping the test cluster in ${info.dir} failed (testenv down exit ${code}: ${
            decoder.decode(stderr)
          }); ` +
            `killed leftover processes ${left.join(", ")}`,
        );
      }
      if (!keepDir) await Deno.remove(info.dir, { recursive: true }).catch(() => {});
    })();
    return stopped;
  };
  return {
    adminKubeconfig: info.adminKubeconfig,
    limitedKubeconfig: info.limitedKubeconfig,
    limitedUser: info.limitedUser,
    limitedNamespace: info.limitedNamespace,
    server: info.server,
    kubectlPath,
    dir: info.dir,
    nodeName: info.nodeName,
    caFile: info.caFile,
    crds: info.crds ?? [],
    pids: { testenv: info.supervisorPid, ...info.pids },
    startupMs: info.startupMillis,
    kubectl,
    async apply(manifest: string, options: KubectlOptions = {}): Promise<string> {
      const result = await kubectl(["apply", "-f", "-"], { ...options, stdin: manifest });
      if (result.code !== 0) throw new Error(`kubectl apply failed: ${result.stderr.trim()}`);
      return result.stdout;
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Starts a new cluster owned by the caller, who must stop it (or use `await using`). If the test
 * runner dies first, the supervisor notices (it watches this process's pid) and stops the cluster.
 */
export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  if (options.build ?? true) await buildClusterBinaries();
  const testenv = `${BIN_DIR}/testenv`;
  if (!(await exists(testenv))) throw new Error(`missing ${testenv}: run test/cluster/build.sh`);
  const args = ["up", "--bin", BIN_DIR, "--watch-pid", String(Deno.pid)];
  if (options.dir) args.push("--dir", options.dir);
  if (options.controllerManager === false) args.push("--controller-manager=false");
  if (options.keepDir) args.push("--keep-dir");
  args.push(`--timeout=${Math.round((options.timeoutMs ?? 180_000) / 1000)}s`);
  for (const source of await crdSources(options)) args.push("--crd", source);
  const { code, stdout, stderr } = await new Deno.Command(testenv, { args, stdout: "piped", stderr: "piped" })
    .output();
  if (code !== 0) throw new Error(`starting the test cluster failed: ${decoder.decode(stderr).trim()}`);
  const info = JSON.parse(decoder.decode(stdout)) as ClusterJson;
  return makeCluster(info, true, options.keepDir ?? false);
}

/**
 * Attaches to the running cluster whose directory holds `cluster.json` (as `testenv up --dir DIR`
 * leaves it). The returned cluster's `stop` does nothing: whoever started the cluster stops it.
 */
export async function attachCluster(dir: string): Promise<TestCluster> {
  const info = JSON.parse(await Deno.readTextFile(`${dir}/cluster.json`)) as ClusterJson;
  if (!processRunning(info.supervisorPid)) throw new Error(`the test cluster in ${dir} is not running`);
  return makeCluster(info, false, true);
}

let shared: Promise<TestCluster> | undefined;

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * One cluster for the whole test process: started on first use with default options in a directory
 * named after this process's pid, so that every test file of one `deno test` run (each loads its own
 * copy of this module) finds and shares it. If `KUBECTL_MCP_TEST_CLUSTER` names a directory where
 * `testenv up --dir DIR` runs a cluster, that one is used instead. The shared cluster's `stop` does
 * nothing; the supervisor stops it when this process exits. Tests that share it must not rely on a
 * clean cluster: give each test its own namespace. Deno's sanitizers are unaffected, since no
 * resource of this process stays open.
 */
export function sharedCluster(): Promise<TestCluster> {
  shared ??= (async () => {
    const fromEnv = Deno.env.get(SHARED_CLUSTER_ENV);
    if (fromEnv) return await attachCluster(fromEnv);
    const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
    const dir = `${tmp}/kubectl-mcp-shared-cluster-${Deno.pid}`;
    let starter = true;
    try {
      await Deno.mkdir(dir);
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      starter = false;
    }
    if (starter) {
      const cluster = await startCluster({ dir });
      return makeCluster(
        {
          dir: cluster.dir,
          server: cluster.server,
          adminKubeconfig: cluster.adminKubeconfig,
          limitedKubeconfig: cluster.limitedKubeconfig,
          limitedUser: cluster.limitedUser,
          limitedNamespace: cluster.limitedNamespace,
          nodeName: cluster.nodeName,
          caFile: cluster.caFile,
          binDir: BIN_DIR,
          supervisorPid: cluster.pids.testenv,
          pids: cluster.pids,
          crds: [...cluster.crds],
          startupMillis: cluster.startupMs,
        },
        false,
        false,
      );
    }
    // Another test file of this process is starting it (deno test --parallel).
    for (let waited = 0; waited < 300_000; waited += 100) {
      if (await exists(`${dir}/cluster.json`)) return await attachCluster(dir);
      if (!(await exists(dir))) break;
      await sleep(100);
    }
    throw new Error(`the shared test cluster in ${dir} did not start`);
  })();
  shared.catch(() => shared = undefined);
  return shared;
}

/** Options of {@link testPodManifest}. */
export interface TestPodOptions {
  /** Pod name. */
  name: string;
  /** Namespace; default `default`. */
  namespace?: string;
  /** Container ports mapped to loopback ports for port-forward: `{8080: 18080}`. */
  forward?: Record<number, number>;
  /** Labels of the Pod. */
  labels?: Record<string, string>;
}

/**
 * A Pod manifest (JSON) for the test kubelet: it becomes Running and Ready with IP 127.0.0.1, and a
 * port-forward to container port P reaches 127.0.0.1:forward[P] (127.0.0.1:P when not mapped).
 */
export function testPodManifest(options: TestPodOptions): string {
  const forward = options.forward ?? {};
  const annotations: Record<string, string> = {};
  for (const [port, local] of Object.entries(forward)) {
    annotations[`${FORWARD_ANNOTATION_PREFIX}${port}`] = `127.0.0.1:${local}`;
  }
  return JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: options.name,
      namespace: options.namespace ?? "default",
      labels: options.labels ?? { app: options.name },
      annotations,
    },
    spec: {
      containers: [{
        name: "main",
        image: "test.invalid/none:latest",
        ports: Object.keys(forward).map((port) => ({ containerPort: Number(port) })),
      }],
    },
  });
}
