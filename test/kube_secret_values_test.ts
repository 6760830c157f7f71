/**
 * Credentials in the cluster that cannot be HTTP header values (the API server stores any bytes):
 * `validate --live` flags the Secret without printing the value, and the cluster replay reports the
 * registration unusable, naming the Secret and key, while the other servers serve.
 */

import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { runCli, spawnCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";
import { startFixture } from "./fixtures/mod.ts";

/** Text of the smuggling credential that must appear nowhere. */
const LEAKS = ["X-Evil", "Bearer abc"];

function assertNoLeak(text: string, where: string): void {
  for (const leak of LEAKS) assert(!text.includes(leak), `${where} shows the credential:\n${text}`);
}

Deno.test("a credential in the cluster that is not a header value: validate --live and the replay name its Secret only", async (t) => {
  const cluster = await sharedCluster();
  const ns = `sv-${crypto.randomUUID().slice(0, 8)}`;
  const env = { KUBECONFIG: cluster.adminKubeconfig };
  const registration = (name: string, prefix: string, extra = "") =>
    `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata: {name: ${name}, namespace: ${ns}}
spec:
  prefix: ${prefix}
  targetRef: {name: ${name}-route}
${extra}`;
  const route = (name: string) =>
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: ${name}-route, namespace: ${ns}}
spec:
  parentRefs: [{name: mcp-gateway}]
  hostnames: [${name}.mcp.local]
  rules:
    - backendRefs: [{name: ${name}, port: 8080}]
`;
  const github = registration("github", "gh_", "  credentialRef: {name: github-token}\n");
  await cluster.apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
`);
  await cluster.apply(
    [
      route("github"),
      route("weather"),
      `apiVersion: v1
kind: Secret
metadata:
  name: github-token
  namespace: ${ns}
  labels: {mcp.kuadrant.io/secret: "true"}
stringData:
  token: "Bearer abc\\r\\nX-Evil: 1"
`,
      github,
      registration("weather", "weather_"),
      // Its own extension: other tests' extensions in the shared cluster would otherwise be chosen.
      `apiVersion: mcp.kuadrant.io/v1
kind: MCPGatewayExtension
metadata: {name: ext, namespace: ${ns}}
spec:
  targetRef: {group: gateway.networking.k8s.io, kind: Gateway, name: mcp-gateway, namespace: ${ns}, sectionName: mcp}
`,
    ].join("---\n"),
  );
  const work = await Deno.makeTempDir({ prefix: "kube_secret_values_test_" });
  try {
    await t.step(
      "validate --live flags the Secret's value on the reference, without printing it",
      async () => {
        const file = `${work}/github.yaml`;
        await Deno.writeTextFile(file, github);
        const offline = await runCli(["validate", "-f", file, "-o", "json"], { env });
        assert(!offline.stdout.includes("credential.invalid"), "offline validate cannot know the value");
        const live = await runCli(["validate", "-f", file, "--live", "-o", "json"], { env });
        assertEquals(live.code, 1, live.stderr);
        assertNoLeak(live.stdout + live.stderr, "validate --live");
        const findings = JSON.parse(live.stdout).findings as {
          code: string;
          field?: string;
          message: string;
        }[];
        const invalid = findings.find((finding) => finding.code === "credential.invalid");
        assert(invalid, live.stdout);
        assertEquals(invalid.field, "spec.credentialRef.name");
        assertStringIncludes(invalid.message, `Secret ${ns}/github-token in the cluster, key "token"`);
        assertStringIncludes(invalid.message, "carriage return");
        const text = await runCli(["validate", "-f", file, "--live"], { env });
        assertNoLeak(text.stdout + text.stderr, "validate --live (text)");
      },
    );

    await t.step(
      "the cluster replay reports the server unusable, names the Secret, and serves the rest",
      async () => {
        await using weather = await startFixture("weather");
        await using githubServer = await startFixture("github");
        await using sim = spawnCli([
          "simulate",
          "-n",
          ns,
          "--gateway-extension",
          `${ns}/ext`,
          "--upstream",
          `github=${githubServer.url}`,
          "--upstream",
          `weather=${weather.url}`,
          "--port",
          "0",
        ], { env });
        const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);
        const status = await (await fetch(new URL("/status", url))).text();
        const metrics = await (await fetch(new URL("/metrics", url))).text();
        assertEquals(await sim.interrupt(), 130);
        for (
          const [where, text] of [["stdout", sim.stdout], ["stderr", sim.stderr], ["/status", status], [
            "/metrics",
            metrics,
          ]]
        ) {
          assertNoLeak(text, where);
        }
        assertMatch(sim.stdout, new RegExp(`^${ns}/github\\s.*\\sUnresolved$`, "m"));
        assertMatch(sim.stdout, new RegExp(`^${ns}/weather\\s.*\\s2\\s+ready$`, "m"));
        assertMatch(
          sim.stdout,
          new RegExp(
            `^${ns}/github: Secret ${ns}/github-token key "token" .*not a valid HTTP header value`,
            "m",
          ),
        );
      },
    );
  } finally {
    await Deno.remove(work, { recursive: true });
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
  }
});
