/**
 * The live verbs and src/kube against a real control plane (test/cluster): CRD install and status,
 * apply with validation, field-manager conflicts with the real kubectl, RBAC denials, get (also
 * --watch), delete, error messages, and port-forward through the API server and the test kubelet.
 * One cluster serves every step; it is stopped at the end.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { REPO_ROOT, runCli } from "./helpers/cli.ts";
import { startCluster, testPodManifest } from "./cluster/cluster.ts";
import { startFixture } from "./fixtures/mod.ts";
import { KubeClient } from "../src/kube/client.ts";
import { openPortForward, POD, resolveServiceToPod } from "../src/kube/portforward.ts";
import { listAndWatch, type WatchEvent } from "../src/kube/watch.ts";
import { resourceInfoOf } from "../src/kube/resources.ts";
import { serverRegistrationCrd } from "../src/model/mod.ts";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";

const REGISTRATION = (name: string, extra = "") =>
  `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata:
  name: ${name}
spec:
  prefix: ${name}_
  targetRef:
    name: ${name}-route
  category: [dev, code]
  credentialRef:
    name: ${name}-token
${extra}`;

const VIRTUAL_SERVER = `apiVersion: mcp.kuadrant.io/v1
kind: MCPVirtualServer
metadata:
  name: dev
spec:
  description: Developer tools
  tools: [github_search, github_issue]
`;

Deno.test({
  name: "live verbs against a real API server",
  // The watch step runs the CLI as a child process that is killed at the end of the step.
  sanitizeResources: false,
  async fn(t) {
    const cluster = await startCluster({ crds: false });
    const work = await Deno.makeTempDir({ prefix: "kube_live_test_" });
    const env = { KUBECONFIG: cluster.adminKubeconfig };
    const cli = (args: string[], options: { stdin?: string; env?: Record<string, string> } = {}) =>
      runCli(args, { env: { ...env, ...options.env }, stdin: options.stdin });
    try {
      await t.step("get without CRDs says to run 'kubectl mcp crds install'", async () => {
        const result = await cli(["get", "servers"]);
        assertEquals(result.code, 1, result.stderr);
        assertStringIncludes(result.stderr, "kubectl mcp crds install");
      });

      await t.step("crds status, install (twice: idempotent), status again", async () => {
        const before = await cli(["crds", "status"]);
        assertEquals(before.code, 0, before.stderr);
        assertEquals(before.stdout.split("\n")[0].split(/\s{2,}/), [
          "NAME",
          "INSTALLED",
          "VERSION",
          "MATCHES",
        ]);
        assertStringIncludes(before.stdout, "mcpserverregistrations.mcp.kuadrant.io   no");
        for (let i = 0; i < 2; i++) {
          const install = await cli(["crds", "install"]);
          assertEquals(install.code, 0, install.stderr);
          assertStringIncludes(
            install.stdout,
            "customresourcedefinition.apiextensions.k8s.io/mcpserverregistrations.mcp.kuadrant.io serverside-applied",
          );
        }
        const after = await cli(["crds", "status", "-o", "json"]);
        const rows = JSON.parse(after.stdout) as {
          name: string;
          installed: boolean;
          matches: boolean;
          versions: string;
        }[];
        assertEquals(rows.length, 3);
        for (const row of rows) {
          assert(row.installed && row.matches, JSON.stringify(row));
          assertEquals(row.versions, "v1 (served, storage)");
        }
        const crds = await cluster.kubectl([
          "get",
          "crd",
          "mcpserverregistrations.mcp.kuadrant.io",
          "-o",
          "jsonpath={.metadata.managedFields[*].manager}",
        ]);
        assertEquals(crds.stdout.split(" ").filter((m) => m !== "kube-apiserver"), ["kubectl-mcp"]);
      });

      await t.step("apply validates first: errors stop it and nothing reaches the cluster", async () => {
        const bad = REGISTRATION("broken").replace("prefix: broken_", "prefix: Not-Valid");
        const result = await cli(["apply", "-f", "-"], { stdin: bad });
        assertEquals(result.code, 1);
        assertStringIncludes(result.stderr, "nothing was applied");
        const check = await cluster.kubectl(["get", "mcpsr", "broken", "--ignore-not-found", "-o", "name"]);
        assertEquals(check.stdout, "");
      });

      await t.step("apply --dry-run=server and client change nothing", async () => {
        const server = await cli(["apply", "-f", "-", "--dry-run=server"], { stdin: REGISTRATION("github") });
        assertEquals(server.code, 0, server.stderr);
        assertEquals(
          server.stdout,
          "mcpserverregistration.mcp.kuadrant.io/github serverside-applied (server dry run)\n",
        );
        const client = await cli(["apply", "-f", "-", "--dry-run=client", "-o", "json"], {
          stdin: REGISTRATION("github"),
        });
        assertEquals(client.code, 0, client.stderr);
        assertEquals(JSON.parse(client.stdout).metadata.namespace, "default");
        const check = await cluster.kubectl(["get", "mcpsr", "--ignore-not-found", "-o", "name"]);
        assertEquals(check.stdout, "");
      });

      await t.step("apply a file; kubectl get mcpsr shows what get servers shows", async () => {
        await Deno.writeTextFile(`${work}/github.yaml`, `${REGISTRATION("github")}---\n${VIRTUAL_SERVER}`);
        const result = await cli(["apply", "-f", `${work}/github.yaml`]);
        assertEquals(result.code, 0, result.stderr);
        assertEquals(
          result.stdout,
          "mcpserverregistration.mcp.kuadrant.io/github serverside-applied\nmcpvirtualserver.mcp.kuadrant.io/dev serverside-applied\n",
        );
        const ours = await cli(["get", "servers"]);
        const theirs = await cluster.kubectl(["get", "mcpsr"]);
        assertEquals(ours.code, 0, ours.stderr);
        const split = (line: string) => line.trim().split(/\s{2,}/);
        const [ourHeader, ourRow] = ours.stdout.trim().split("\n");
        const [theirHeader, theirRow] = theirs.stdout.trim().split("\n");
        assertEquals(split(ourHeader), split(theirHeader));
        assertEquals(split(ourHeader), [
          "NAME",
          "PREFIX",
          "TARGET",
          "PATH",
          "READY",
          "CATEGORY",
          "CREDENTIALS",
          "AGE",
        ]);
        // READY is empty without a controller: kubectl leaves the cell blank, the printers write <none>.
        const ourCells = split(ourRow).filter((cell) => cell !== "<none>");
        const theirCells = split(theirRow);
        assertEquals(ourCells.slice(0, -1), theirCells.slice(0, -1));
        assertEquals(ourCells.slice(0, 6), [
          "github",
          "github_",
          "github-route",
          "/mcp",
          '["dev","code"]',
          "github-token",
        ]);

        const all = await cli(["get", "mcpvs", "-A"]);
        assertEquals(all.stdout.split("\n")[0].trim().split(/\s{2,}/), [
          "NAMESPACE",
          "NAME",
          "READY",
          "TOOLS",
          "AGE",
        ]);
        assertStringIncludes(all.stdout, "default     dev");
        const name = await cli(["get", "server", "github", "-o", "name"]);
        assertEquals(name.stdout, "mcpserverregistration.mcp.kuadrant.io/github\n");
        const json = JSON.parse((await cli(["get", "registrations", "-o", "json"])).stdout);
        assertEquals([json.kind, json.items[0].spec.path], ["List", "/mcp"]);
        assertEquals(json.items[0].metadata.managedFields, undefined);
        const yaml = await cli(["get", "mcpsr", "github", "-o", "yaml"]);
        assertStringIncludes(yaml.stdout, "prefix: github_");
        const headless = await cli(["get", "servers", "--no-headers"]);
        assert(headless.stdout.startsWith("github "), headless.stdout);
      });

      await t.step("empty lists say 'No resources found' on stderr, as kubectl does", async () => {
        const result = await cli(["get", "gateways", "-n", "kube-system"]);
        assertEquals([result.code, result.stdout], [0, ""]);
        assertEquals(result.stderr, "No resources found in kube-system namespace.\n");
        const missing = await cli(["get", "server", "nope"]);
        assertEquals(missing.code, 1);
        assertStringIncludes(missing.stderr, 'mcpserverregistrations.mcp.kuadrant.io "nope" not found');
      });

      await t.step("field-manager conflicts with the real kubectl, in both directions", async () => {
        const other = REGISTRATION("github", "  path: /theirs\n");
        const theirs = await cluster.kubectl(["apply", "--server-side", "--field-manager=other", "-f", "-"], {
          stdin: other,
        });
        assertEquals(theirs.code, 0, theirs.stderr);
        const mine = REGISTRATION("github", "  path: /mine\n");
        const conflict = await cli(["apply", "-f", "-"], { stdin: mine });
        assertEquals(conflict.code, 1, conflict.stdout);
        assertStringIncludes(conflict.stderr, 'conflict with "other": .spec.path');
        assertStringIncludes(conflict.stderr, "--force-conflicts");
        const forced = await cli(["apply", "-f", "-", "--force-conflicts"], { stdin: mine });
        assertEquals(forced.code, 0, forced.stderr);
        const managers = await cluster.kubectl([
          "get",
          "mcpsr",
          "github",
          "-o",
          'jsonpath={range .metadata.managedFields[*]}{.manager}={.operation}{"\\n"}{end}',
        ]);
        assertEquals(managers.stdout.trim().split("\n").sort(), ["kubectl-mcp=Apply", "other=Apply"]);
        const back = await cluster.kubectl(["apply", "--server-side", "--field-manager=other", "-f", "-"], {
          stdin: REGISTRATION("github", "  path: /again\n"),
        });
        assertEquals(back.code, 1);
        assertStringIncludes(back.stderr, 'conflict with "kubectl-mcp"');
        const ours = JSON.parse(
          (await cli(["get", "server", "github", "-o", "json", "--show-managed-fields"])).stdout,
        );
        const names = ours.metadata.managedFields.map((entry: { manager: string }) => entry.manager).sort();
        assertEquals(names, ["kubectl-mcp", "other"]);
        assertEquals(ours.spec.path, "/mine");
        const custom = await cli(["apply", "-f", "-", "--field-manager=third"], { stdin: mine });
        assertEquals(custom.code, 0, custom.stderr);
      });

      await t.step("RBAC denials name the user, verb, resource and namespace", async () => {
        const limited = { KUBECONFIG: cluster.limitedKubeconfig };
        const list = await cli(["get", "servers", "-n", "default"], { env: limited });
        assertEquals(list.code, 1);
        assertStringIncludes(
          list.stderr,
          `User "${cluster.limitedUser}" cannot list resource "mcpserverregistrations" in API group "mcp.kuadrant.io" in the namespace "default"`,
        );
        assertStringIncludes(list.stderr, "kubectl auth can-i list");
        const apply = await cli(["apply", "-f", "-", "-n", cluster.limitedNamespace], {
          env: limited,
          stdin: REGISTRATION("denied"),
        });
        assertEquals(apply.code, 1);
        assertStringIncludes(
          apply.stderr,
          `cannot patch resource "mcpserverregistrations" in API group "mcp.kuadrant.io" in the namespace "${cluster.limitedNamespace}"`,
        );
      });

      await t.step(
        "missing namespace, unreachable server and rejected credentials are explained",
        async () => {
          const namespace = await cli(["apply", "-f", "-", "-n", "nowhere"], { stdin: REGISTRATION("x") });
          assertEquals(namespace.code, 1);
          assertStringIncludes(namespace.stderr, 'namespaces "nowhere" not found');
          assertStringIncludes(namespace.stderr, "kubectl create namespace nowhere");

          const admin = await Deno.readTextFile(cluster.adminKubeconfig);
          const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
          const deadPort = (closed.addr as Deno.NetAddr).port;
          closed.close();
          await Deno.writeTextFile(
            `${work}/dead.kubeconfig`,
            admin.replaceAll(cluster.server, `https://127.0.0.1:${deadPort}`),
          );
          const dead = await cli(["get", "servers"], { env: { KUBECONFIG: `${work}/dead.kubeconfig` } });
          assertEquals(dead.code, 1);
          assertStringIncludes(
            dead.stderr,
            `the connection to the server https://127.0.0.1:${deadPort} was refused`,
          );

          const config = JSON.parse(admin);
          config.users = [{ name: "admin", user: { token: "not-a-real-token" } }];
          await Deno.writeTextFile(`${work}/token.kubeconfig`, JSON.stringify(config));
          const rejected = await cli(["get", "servers"], { env: { KUBECONFIG: `${work}/token.kubeconfig` } });
          assertEquals(rejected.code, 1);
          assertStringIncludes(rejected.stderr, "You must be logged in to the server (Unauthorized)");
          assertStringIncludes(rejected.stderr, cluster.server);
        },
      );

      await t.step("get --watch prints the list, then objects added later", async () => {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", `${REPO_ROOT}/main.ts`, "get", "servers", "--watch"],
          env: { ...env, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen = "";
        const waitFor = async (text: string) => {
          const deadline = Date.now() + 30_000;
          while (!seen.includes(text)) {
            if (Date.now() > deadline) throw new Error(`timed out waiting for ${text}; output:\n${seen}`);
            const { value, done } = await reader.read();
            if (done) throw new Error(`watch ended early; output:\n${seen}`);
            seen += value;
          }
        };
        try {
          await waitFor("github ");
          assert(seen.startsWith("NAME "), seen);
          const applied = await cli(["apply", "-f", "-"], { stdin: REGISTRATION("weather") });
          assertEquals(applied.code, 0, applied.stderr);
          await waitFor("weather ");
          assertEquals(seen.match(/NAME /g)?.length, 1, "headers once");
        } finally {
          child.kill("SIGTERM");
          await reader.cancel().catch(() => {});
          await child.status;
          await child.stderr.cancel().catch(() => {});
        }
      });

      await t.step("listAndWatch yields ADDED, MODIFIED and DELETED events", async () => {
        using client = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });
        const abort = new AbortController();
        const events: WatchEvent[] = [];
        const done = (async () => {
          for await (
            const event of listAndWatch(client, resourceInfoOf(serverRegistrationCrd), {
              signal: abort.signal,
              initialEvents: false,
            })
          ) {
            events.push(event);
            if (event.type === "DELETED") abort.abort();
          }
        })();
        await cli(["apply", "-f", "-"], { stdin: REGISTRATION("events") });
        await cli(["apply", "-f", "-"], { stdin: REGISTRATION("events", "  hint: changed\n") });
        await cli(["delete", "server", "events"]);
        await done;
        const mine = events.filter((e) => e.object.metadata?.name === "events").map((e) => e.type);
        assertEquals(mine, ["ADDED", "MODIFIED", "DELETED"]);
      });

      await t.step("delete, delete again, --ignore-not-found", async () => {
        const deleted = await cli(["delete", "servers", "github", "weather"]);
        assertEquals(deleted.code, 0, deleted.stderr);
        assertEquals(
          deleted.stdout,
          'mcpserverregistration.mcp.kuadrant.io "github" deleted\nmcpserverregistration.mcp.kuadrant.io "weather" deleted\n',
        );
        const again = await cli(["delete", "mcpsr", "github"]);
        assertEquals(again.code, 1);
        assertStringIncludes(again.stderr, 'mcpserverregistrations.mcp.kuadrant.io "github" not found');
        const ignored = await cli(["delete", "server", "github", "--ignore-not-found"]);
        assertEquals([ignored.code, ignored.stdout], [0, ""]);
        const vs = await cli(["delete", "virtual-server", "dev"]);
        assertEquals(vs.stdout, 'mcpvirtualserver.mcp.kuadrant.io "dev" deleted\n');
      });

      await t.step(
        "port-forward reaches an HTTP server and an MCP server through the API server",
        async () => {
          const http = Deno.serve(
            { hostname: "127.0.0.1", port: 0, onListen() {} },
            (request) => new Response(`hello from ${new URL(request.url).pathname}`),
          );
          await using weather = await startFixture("weather");
          using client = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });
          try {
            const pod = JSON.parse(testPodManifest({
              name: "backend",
              forward: { 8080: http.addr.port, 9090: weather.port },
              labels: { app: "backend" },
            }));
            pod.spec.containers[0].ports[1].name = "mcp";
            await cluster.apply(JSON.stringify(pod));
            await cluster.apply(JSON.stringify({
              apiVersion: "v1",
              kind: "Service",
              metadata: { name: "backend", namespace: "default" },
              spec: { selector: { app: "backend" }, ports: [{ name: "mcp", port: 80, targetPort: "mcp" }] },
            }));
            const wait = await cluster.kubectl([
              "wait",
              "--for=condition=Ready",
              "pod/backend",
              "--timeout=60s",
            ]);
            assertEquals(wait.code, 0, wait.stderr);

            await using forward = await openPortForward(client, { pod: "backend", port: 8080 });
            for (const path of ["/one", "/two"]) {
              const response = await fetch(`http://127.0.0.1:${forward.localPort}${path}`);
              assertEquals(await response.text(), `hello from ${path}`);
            }

            const target = await resolveServiceToPod(client, "default", "backend", 80);
            const backendPod = await client.get(POD, "backend", { namespace: "default" });
            assert(backendPod.metadata?.uid, "the Pod has a UID");
            assertEquals(target, { pod: "backend", port: 9090, uid: backendPod.metadata?.uid });
            await using mcp = await openPortForward(client, { pod: target.pod, port: target.port });
            const mcpClient = new Client({ name: "kube-live-test", version: "0.0.0" });
            await mcpClient.connect(
              new StreamableHTTPClientTransport(new URL(`http://127.0.0.1:${mcp.localPort}/mcp`)),
            );
            try {
              const tools = await mcpClient.listTools();
              assert(tools.tools.length > 0, "the weather fixture lists tools through the forward");
            } finally {
              await mcpClient.close();
            }
          } finally {
            await http.shutdown();
          }
        },
      );
    } finally {
      await cluster.stop();
      await Deno.remove(work, { recursive: true });
    }
  },
});
