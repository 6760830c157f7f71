// Integration test of the test cluster (test/cluster/): real etcd, kube-apiserver, controller manager,
// kubectl and the test kubelet, including port-forward through the API server.
import assert from "node:assert/strict";
import * as net from "node:net";
import { parseAllDocuments } from "yaml";
import * as k8s from "@kubernetes/client-node";
import { startCluster, type TestCluster, testPodManifest } from "./cluster/cluster.ts";
import { processRunning } from "./helpers/processes.ts";

const PROJECT_CRDS = new URL("../crds/", import.meta.url).pathname;

async function projectCrdNames(): Promise<string[]> {
  const names: string[] = [];
  let entries: Deno.DirEntry[] = [];
  try {
    entries = await Array.fromAsync(Deno.readDir(PROJECT_CRDS));
  } catch {
    return names;
  }
  for (const entry of entries) {
    if (!entry.isFile || !/\.ya?ml$/.test(entry.name)) continue;
    for (const doc of parseAllDocuments(await Deno.readTextFile(PROJECT_CRDS + entry.name))) {
      const object = doc.toJSON() as { kind?: string; metadata?: { name?: string } } | null;
      if (object?.kind === "CustomResourceDefinition" && object.metadata?.name) {
        names.push(object.metadata.name);
      }
    }
  }
  return names;
}

async function ok(cluster: TestCluster, args: string[]): Promise<string> {
  const result = await cluster.kubectl(args);
  assert.deepEqual(result.code, 0, `kubectl ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A tiny local HTTP server standing in for the process in a pod. */
function localServer(body: string): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    return new Response(`${body} ${new URL(req.url).pathname}`);
  });
}

async function waitForOutput(
  stream: ReadableStream<Uint8Array>,
  text: string,
  timeoutMs: number,
): Promise<string> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  const timer = setTimeout(() => reader.cancel(), timeoutMs);
  try {
    while (!seen.includes(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${JSON.stringify(text)}; got ${JSON.stringify(seen)}`);
      seen += decoder.decode(value, { stream: true });
    }
    return seen;
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
}

interface PodJson {
  metadata: { uid: string };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string };
}

async function podRunning(cluster: TestCluster, name: string, namespace = "default"): Promise<PodJson> {
  await ok(cluster, ["wait", "-n", namespace, "--for=condition=Ready", `pod/${name}`, "--timeout=30s"]);
  return JSON.parse(await ok(cluster, ["get", "-n", namespace, `pod/${name}`, "-o", "json"]));
}

Deno.test("test cluster: real control plane, CRDs, RBAC, pods and port-forward", async (t) => {
  const started = performance.now();
  const keepDir = Deno.env.get("KEEP_CLUSTER_DIR") === "1"; // to read the logs in <dir>/logs afterwards
  const cluster = await startCluster({ keepDir });
  const pids = Object.values(cluster.pids);
  console.log(
    `cluster ready in ${
      Math.round(performance.now() - started)
    }ms (supervisor: ${cluster.startupMs}ms) at ${cluster.server}`,
  );
  try {
    await t.step("kubectl version matches the server", async () => {
      const version = JSON.parse(await ok(cluster, ["version", "-o", "json"]));
      assert.match(version.serverVersion.gitVersion, /^v1\.\d+\.\d+$/);
      assert.deepEqual(version.clientVersion.gitVersion, version.serverVersion.gitVersion);
    });

    await t.step("CRDs are installed and established", async () => {
      const names = (await ok(cluster, ["get", "crds", "-o", "name"])).trim().split("\n")
        .map((line) => line.replace("customresourcedefinition.apiextensions.k8s.io/", ""));
      const expected = [
        "httproutes.gateway.networking.k8s.io",
        "gateways.gateway.networking.k8s.io",
        "gatewayclasses.gateway.networking.k8s.io",
        "referencegrants.gateway.networking.k8s.io",
        "authpolicies.kuadrant.io",
        "ratelimitpolicies.kuadrant.io",
        ...await projectCrdNames(),
      ];
      for (const name of expected) {
        assert(names.includes(name), `CRD ${name} missing from ${names.join(", ")}`);
      }
      const established = await ok(cluster, [
        "get",
        "crds",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status}{"\\n"}{end}',
      ]);
      for (const name of expected) assert.ok(established.includes(`${name}=True`), established);
      // A Gateway API object round-trips through the CRD's schema.
      await cluster.apply(JSON.stringify({
        apiVersion: "gateway.networking.k8s.io/v1",
        kind: "HTTPRoute",
        metadata: { name: "probe", namespace: "default" },
        spec: { rules: [{ backendRefs: [{ name: "svc", port: 80 }] }] },
      }));
    });

    await t.step("limited user can read its namespace and is forbidden to write", async () => {
      const read = await cluster.kubectl(["get", "pods", "-n", cluster.limitedNamespace], { limited: true });
      assert.deepEqual(read.code, 0, read.stderr);
      const write = await cluster.kubectl(
        ["create", "configmap", "nope", "-n", cluster.limitedNamespace, "--from-literal=a=b"],
        { limited: true },
      );
      assert.deepEqual(write.code, 1);
      assert.match(write.stderr, /forbidden/i);
      assert.ok(
        write.stderr.includes(`User "${cluster.limitedUser}" cannot create resource "configmaps"`),
        write.stderr,
      );
      const elsewhere = await cluster.kubectl(["get", "pods", "-n", "default"], { limited: true });
      assert.deepEqual(elsewhere.code, 1);
      assert.match(elsewhere.stderr, /forbidden/i);
    });

    const server = localServer("hello from the pod");
    const localPort = server.addr.port;
    try {
      await t.step("a pod on the test node becomes Running with IP 127.0.0.1", async () => {
        await cluster.apply(testPodManifest({ name: "web", forward: { 8080: localPort } }));
        const pod = await podRunning(cluster, "web");
        assert.deepEqual(pod.spec.nodeName, cluster.nodeName);
        assert.deepEqual(pod.status.phase, "Running");
        assert.deepEqual(pod.status.podIP, "127.0.0.1");
      });

      await t.step(
        "kubectl port-forward reaches the local server (WebSocket to the API server, SPDY to the kubelet)",
        async () => {
          const port = freePort();
          const child = new Deno.Command(cluster.kubectlPath, {
            args: [`--kubeconfig=${cluster.adminKubeconfig}`, "port-forward", "pod/web", `${port}:8080`],
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          try {
            await waitForOutput(child.stdout, "Forwarding from 127.0.0.1", 15_000);
            for (const path of ["/one", "/two"]) {
              const response = await fetch(`http://127.0.0.1:${port}${path}`);
              assert.deepEqual(await response.text(), `hello from the pod ${path}`);
            }
            // kubectl spoke WebSocket (tunnelling SPDY portforward.k8s.io) to the API server, which
            // translated it to SPDY for the kubelet.
            const metrics = await ok(cluster, ["get", "--raw", "/metrics"]);
            assert.match(metrics, /apiserver_stream_tunnel_requests_total\{code="101"\} [1-9]/);
          } finally {
            child.kill("SIGTERM");
            await child.status;
            await child.stderr.cancel();
          }
        },
      );

      await t.step("@kubernetes/client-node PortForward (WebSocket v4.channel.k8s.io) works", async () => {
        const kc = new k8s.KubeConfig();
        kc.loadFromFile(cluster.adminKubeconfig);
        const forward = new k8s.PortForward(kc);
        const sockets: WebSocket[] = [];
        const proxy = net.createServer(async (socket) => {
          const ws = await forward.portForward("default", "web", [8080], socket, null, socket);
          if (typeof ws !== "function") sockets.push(ws as unknown as WebSocket);
        });
        await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
        const port = (proxy.address() as net.AddressInfo).port;
        try {
          const response = await fetch(`http://127.0.0.1:${port}/ws`, { headers: { connection: "close" } });
          assert.deepEqual(await response.text(), "hello from the pod /ws");
        } finally {
          for (const ws of sockets) ws.close();
          await new Promise<void>((resolve) => proxy.close(() => resolve()));
        }
      });

      await t.step("a deleted and recreated pod comes back Running", async () => {
        const before = await podRunning(cluster, "web");
        await ok(cluster, ["delete", "pod", "web", "--wait=true", "--timeout=30s"]);
        await cluster.apply(testPodManifest({ name: "web", forward: { 8080: localPort } }));
        const after = await podRunning(cluster, "web");
        assert(after.metadata.uid !== before.metadata.uid);
        assert.deepEqual(after.status.phase, "Running");
      });

      await t.step("a Deployment's pod runs, and is replaced when deleted (controller manager)", async () => {
        const pod = JSON.parse(testPodManifest({ name: "api", forward: { 9090: localPort } }));
        await cluster.apply(JSON.stringify({
          apiVersion: "apps/v1",
          kind: "Deployment",
          metadata: { name: "api", namespace: "default" },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "api" } },
            template: {
              metadata: { labels: { app: "api" }, annotations: pod.metadata.annotations },
              spec: pod.spec,
            },
          },
        }));
        await ok(cluster, ["rollout", "status", "deployment/api", "--timeout=60s"]);
        const first = (await ok(cluster, ["get", "pods", "-l", "app=api", "-o", "name"])).trim();
        await ok(cluster, ["delete", first, "--wait=true", "--timeout=30s"]);
        let second = "";
        for (let i = 0; i < 100 && (second === "" || second === first); i++) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          second = (await ok(cluster, ["get", "pods", "-l", "app=api", "-o", "name"])).trim();
        }
        assert.notEqual(second, first);
        await ok(cluster, ["wait", "--for=condition=Ready", second, "--timeout=30s"]);
        // kubectl resolves the Deployment to its pod, and the pod's annotation to the local server.
        const port = freePort();
        const child = new Deno.Command(cluster.kubectlPath, {
          args: [`--kubeconfig=${cluster.adminKubeconfig}`, "port-forward", "deployment/api", `${port}:9090`],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          await waitForOutput(child.stdout, "Forwarding from 127.0.0.1", 15_000);
          assert.deepEqual(
            await (await fetch(`http://127.0.0.1:${port}/api`)).text(),
            "hello from the pod /api",
          );
        } finally {
          child.kill("SIGTERM");
          await child.status;
          await child.stderr.cancel();
        }
      });
    } finally {
      await server.shutdown();
    }
  } finally {
    await cluster.stop();
  }

  await t.step("stop leaves no process behind", async () => {
    const left = pids.filter(processRunning);
    assert.deepEqual(left, [], `processes still running: ${left.join(", ")}`);
    const pgrep = await new Deno.Command("pgrep", { args: ["-f", cluster.dir], stdout: "piped" }).output();
    assert.deepEqual(
      new TextDecoder().decode(pgrep.stdout).trim(),
      "",
      "pgrep found processes of the stopped cluster",
    );
    if (keepDir) return;
    let dirGone = false;
    try {
      await Deno.stat(cluster.dir);
    } catch {
      dirGone = true;
    }
    assert(dirGone, `${cluster.dir} was not removed`);
  });
});
