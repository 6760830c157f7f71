/**
 * `kubectl mcp validate --live` against a real API server (test/cluster): what only the cluster
 * knows turns offline warnings into errors or passes (a prefix already used by a registration in the
 * cluster, HTTPRoutes that exist or not, an unlabelled Secret, prefix immutability against the live
 * object), the server-side dry run reports the API server's own rejections, and with a read-only
 * kubeconfig the warnings say what RBAC forbade.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";

interface Report {
  findings: { severity: string; code: string; message: string; field?: string; line: number }[];
  errors: number;
  warnings: number;
  ok: boolean;
}

Deno.test("validate --live checks manifests against the cluster", async (t) => {
  const cluster = await sharedCluster();
  const ns = `vl-${crypto.randomUUID().slice(0, 8)}`;
  const work = await Deno.makeTempDir({ prefix: "kube_validate_live_test_" });
  const env = { KUBECONFIG: cluster.adminKubeconfig };
  const validate = async (manifest: string, args: string[] = [], extraEnv: Record<string, string> = {}) => {
    const file = `${work}/${crypto.randomUUID()}.yaml`;
    await Deno.writeTextFile(file, manifest);
    const result = await runCli(["validate", "-f", file, "-o", "json", ...args], {
      env: { ...env, ...extraEnv },
    });
    assert(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
    return { ...result, report: JSON.parse(result.stdout) as Report };
  };
  const codes = (report: Report) => report.findings.map((f) => `${f.severity} ${f.code}`).sort();
  const registration = (name: string, prefix: string, route: string, extra = "") =>
    `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  prefix: ${prefix}
  targetRef:
    name: ${route}
${extra}`;
  const apply = async (manifest: string) => {
    const result = await cluster.kubectl(["apply", "--server-side", "-f", "-"], { stdin: manifest });
    assertEquals(result.code, 0, result.stderr);
  };

  await apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
`);
  await apply(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: mcp-gateway, namespace: ${ns}}
spec:
  gatewayClassName: test
  listeners:
    - {name: mcp, port: 8080, protocol: HTTP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: github-route, namespace: ${ns}}
spec:
  parentRefs: [{name: mcp-gateway}]
  hostnames: [github.mcp.local]
  rules:
    - backendRefs: [{name: github, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: github, namespace: ${ns}}
spec:
  ports: [{port: 8080}]
---
apiVersion: v1
kind: Secret
metadata: {name: plain-token, namespace: ${ns}}
stringData: {token: not-printed}
---
${registration("github", "github_", "github-route")}`);

  try {
    await t.step("a prefix already used in the cluster is an error only --live finds", async () => {
      const mine = registration("github-copy", "github_", "github-route");
      const offline = await validate(mine);
      assertEquals(offline.report.errors, 0, offline.stdout);
      const live = await validate(mine, ["--live"]);
      assertEquals(live.code, 1);
      const duplicate = live.report.findings.find((f) => f.code === "prefix.duplicate");
      assert(duplicate, live.stdout);
      assertStringIncludes(
        duplicate.message,
        `"github_" is already used by MCPServerRegistration ${ns}/github in the cluster on gateway ${ns}/mcp-gateway`,
      );
      // The registration itself, applied again, is no duplicate of its own live version.
      const same = await validate(registration("github", "github_", "github-route"), ["--live"]);
      assertEquals(codes(same.report), [], same.stdout);
    });

    await t.step("an HTTPRoute that exists passes; one that does not is an error", async () => {
      const exists = registration("weather", "weather_", "github-route");
      const offline = await validate(exists);
      assertEquals(codes(offline.report), ["warning ref.route-missing"]);
      const live = await validate(exists, ["--live"]);
      assertEquals(codes(live.report), [], live.stdout);
      const missing = await validate(registration("weather", "weather_", "no-such-route"), ["--live"]);
      assertEquals(codes(missing.report), ["error ref.route-missing"]);
      assertStringIncludes(missing.report.findings[0].message, "neither among the files nor in the cluster");
    });

    await t.step(
      "a route's virtual-server header naming no MCPVirtualServer is a warning only --live finds",
      async () => {
        await apply(`apiVersion: mcp.kuadrant.io/v1
kind: MCPVirtualServer
metadata: {name: triage, namespace: ${ns}}
spec:
  tools: [github_search]
`);
        const route = (value: string) =>
          `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: triage-route, namespace: ${ns}}
spec:
  parentRefs: [{name: mcp-gateway}]
  hostnames: [triage.mcp.local]
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set: [{name: X-Mcp-Virtualserver, value: "${value}"}]
      backendRefs: [{name: github, port: 8080}]
`;
        assertEquals(codes((await validate(route(`${ns}/trige`))).report), []);
        assertEquals(codes((await validate(route(`${ns}/triage`), ["--live"])).report), []);
        const missing = await validate(route(`${ns}/trige`), ["--live"]);
        assertEquals(codes(missing.report), ["warning ref.virtualserver-missing"], missing.stdout);
        assertStringIncludes(
          missing.report.findings[0].message,
          "the gateway then serves the unfiltered list",
        );
      },
    );

    await t.step("an unlabelled Secret in the cluster is an error, a missing one too", async () => {
      const unlabelled = await validate(
        registration("weather", "weather_", "github-route", "  credentialRef:\n    name: plain-token\n"),
        ["--live"],
      );
      assertEquals(codes(unlabelled.report), ["error secret.label"], unlabelled.stdout);
      assertStringIncludes(unlabelled.report.findings[0].message, `Secret ${ns}/plain-token in the cluster`);
      assert(!unlabelled.stdout.includes("not-printed"), "secret values are never shown");
      const wrongKey = await validate(
        registration(
          "weather",
          "weather_",
          "github-route",
          "  credentialRef:\n    name: plain-token\n    key: other\n",
        ),
        ["--live"],
      );
      assertEquals(codes(wrongKey.report), ["error secret.key-missing", "error secret.label"]);
      const missing = await validate(
        registration("weather", "weather_", "github-route", "  credentialRef:\n    name: nowhere\n"),
        ["--live"],
      );
      assertEquals(codes(missing.report), ["error ref.secret-missing"]);
    });

    await t.step("prefix immutability is checked against the live object", async () => {
      const changed = registration("github", "octocat_", "github-route");
      const offline = await validate(changed);
      assertEquals(offline.report.errors, 0, "offline there is no old object");
      const live = await validate(changed, ["--live"]);
      assertEquals(codes(live.report), ["error apiserver.rejected", "error cel.transition"], live.stdout);
      for (const finding of live.report.findings) {
        assertStringIncludes(finding.message, "prefix is immutable");
      }
    });

    await t.step("the server-side dry run reports the API server's own rejection", async () => {
      // The offline validator does not model the Gateway API hostname pattern; the API server does.
      const route = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad-route, namespace: ${ns}}
spec:
  parentRefs: [{name: mcp-gateway}]
  hostnames: [Not_A_Hostname]
  rules:
    - backendRefs: [{name: github, port: 8080}]
`;
      const offline = await validate(route);
      assertEquals(offline.report.errors, 0);
      const live = await validate(route, ["--live"]);
      assertEquals(live.code, 1);
      assertEquals(codes(live.report), ["error apiserver.rejected"]);
      assertStringIncludes(live.report.findings[0].message, "spec.hostnames[0]");
      assertEquals(live.report.findings[0].line, 1);
      const text = await runCli(["validate", "-f", "-", "--live"], { env, stdin: route });
      assertStringIncludes(text.stdout, "error: The API server rejects HTTPRoute");
      assertStringIncludes(text.stdout, "[apiserver.rejected]");
      const check = await cluster.kubectl(["get", "httproute", "bad-route", "-n", ns, "--ignore-not-found"]);
      assertEquals(check.stdout, "", "a dry run persists nothing");
    });

    await t.step("with a read-only kubeconfig, the warnings say what was forbidden", async () => {
      const limited = { KUBECONFIG: cluster.limitedKubeconfig };
      const manifest = registration(
        "weather",
        "weather_",
        "github-route",
        "  credentialRef:\n    name: token\n",
      )
        .replace(`namespace: ${ns}`, `namespace: ${cluster.limitedNamespace}`);
      const result = await validate(manifest, ["--live"], limited);
      const forbidden = result.report.findings.filter((f) => f.code === "live.forbidden");
      const messages = forbidden.map((f) => f.message).join("\n");
      assertStringIncludes(
        messages,
        `User "${cluster.limitedUser}" cannot list resource "mcpserverregistrations" in API group "mcp.kuadrant.io"`,
      );
      assertStringIncludes(messages, `Cannot read secrets ${cluster.limitedNamespace}/token in the cluster`);
      assertStringIncludes(messages, `cannot get resource "secrets"`);
      const unchecked = result.report.findings.find((f) => f.code === "apiserver.unchecked");
      assert(unchecked, result.stdout);
      assertStringIncludes(unchecked.message, `cannot patch resource "mcpserverregistrations"`);
      // What could not be read falls back to the offline form: warnings, not errors.
      assertEquals(result.report.errors, 0, result.stdout);
      assertEquals(result.code, 0);
      const strict = await validate(manifest, ["--live", "--strict"], limited);
      assertEquals(strict.code, 1);
    });

    await t.step("kubeconfig flags need --live; an unreachable cluster fails with exit 1", async () => {
      const usage = await runCli(["validate", "-f", "-", "--context", "x"], { env, stdin: "{}" });
      assertEquals(usage.code, 2);
      assertStringIncludes(usage.stderr, "--context needs --live");
      const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (closed.addr as Deno.NetAddr).port;
      closed.close();
      const admin = await Deno.readTextFile(cluster.adminKubeconfig);
      await Deno.writeTextFile(
        `${work}/dead.kubeconfig`,
        admin.replaceAll(cluster.server, `https://127.0.0.1:${port}`),
      );
      const dead = await runCli(
        ["validate", "-f", "-", "--live", "--kubeconfig", `${work}/dead.kubeconfig`],
        {
          stdin: registration("weather", "weather_", "github-route"),
        },
      );
      assertEquals(dead.code, 1);
      assertStringIncludes(dead.stderr, "was refused");
    });
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    await Deno.remove(work, { recursive: true });
  }
});
