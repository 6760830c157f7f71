/**
 * AuthPolicies replayed from a real kube-apiserver (test/cluster, shared): `simulate` reads the
 * AuthPolicy on the MCPGatewayExtension's Gateway and the apiKey Secret it selects (in Kuadrant's
 * namespace), applies a policy created while it runs within 2 s, follows a change of the Secret,
 * and lets requests through again within 2 s of the policy's deletion. A jwt issuer that is a
 * cluster Service (reachable only inside the cluster) is port-forwarded: its discovery document
 * comes through the port-forward and its tokens, whose `iss` is the in-cluster URL, are accepted.
 * No key is ever printed.
 */

import { stringify } from "yaml";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { spawnCli } from "./helpers/cli.ts";
import { sharedCluster, testPodManifest } from "./cluster/cluster.ts";
import { makeKey, startIssuer } from "./helpers/jwks_issuer.ts";

/** Where Kuadrant creates AuthConfigs, so where Authorino reads apiKey Secrets. */
const KUADRANT_NS = "kuadrant-system";

const initialize = (headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers },
  body: JSON.stringify({
    jsonrpc: "2.0",
    id: 1,
    method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "t", version: "1" } },
  }),
});

/** Polls the gateway with `init` until it answers `status`; returns the milliseconds it took. */
async function statusWithin(
  url: string,
  init: () => RequestInit,
  status: number,
  ms: number,
): Promise<number> {
  const started = performance.now();
  let last = 0;
  while (performance.now() - started < ms) {
    const response = await fetch(url, init());
    await response.body?.cancel();
    last = response.status;
    if (last === status) return Math.round(performance.now() - started);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`the gateway did not answer ${status} within ${ms} ms (last ${last})`);
}

Deno.test({
  name:
    "simulate applies an AuthPolicy created in the cluster within 2 s, follows its apiKey Secret, and its deletion",
  // The simulator is a child process, stopped in the test.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const cluster = await sharedCluster();
    const ns = `ra-${crypto.randomUUID().slice(0, 8)}`;
    const key = `key-${crypto.randomUUID()}`;
    const kubectl = async (...args: string[]) => {
      const result = await cluster.kubectl(args);
      assertEquals(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    // Shared by every test in the cluster: created once, never deleted.
    const kuadrant = await cluster.kubectl(["create", "namespace", KUADRANT_NS]);
    assert(kuadrant.code === 0 || kuadrant.stderr.includes("AlreadyExists"), kuadrant.stderr);
    await kubectl("create", "namespace", ns);
    const secretName = `${ns}-client`;
    const secret = (value: string) =>
      stringify({
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: secretName,
          namespace: KUADRANT_NS,
          // The label this test's policy selects: no other test's key matches it.
          labels: { "authorino.kuadrant.io/managed-by": "authorino", "mcp-client-of": ns },
        },
        stringData: { api_key: value },
      });
    const policy = stringify({
      apiVersion: "kuadrant.io/v1",
      kind: "AuthPolicy",
      metadata: { name: "mcp-auth", namespace: ns },
      spec: {
        targetRef: {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: "mcp-gateway",
          sectionName: "mcp",
        },
        rules: {
          authentication: {
            "api-key-users": {
              apiKey: { selector: { matchLabels: { "mcp-client-of": ns } } },
              credentials: { authorizationHeader: { prefix: "APIKEY" } },
            },
          },
          response: {
            unauthenticated: { code: 401, body: { value: "the cluster's policy says no" } },
          },
        },
      },
    });
    await cluster.apply(
      [
        // Its own extension, followed with --gateway-extension: others' in the shared cluster are not chosen.
        stringify({
          apiVersion: "mcp.kuadrant.io/v1",
          kind: "MCPGatewayExtension",
          metadata: { name: "ext", namespace: ns },
          spec: {
            targetRef: {
              group: "gateway.networking.k8s.io",
              kind: "Gateway",
              name: "mcp-gateway",
              namespace: ns,
              sectionName: "mcp",
            },
          },
        }),
        secret(key),
      ].join("---\n"),
    );
    const sim = spawnCli([
      "simulate",
      "--kubeconfig",
      cluster.adminKubeconfig,
      "-n",
      ns,
      "--gateway-extension",
      `${ns}/ext`,
      "--port",
      "0",
    ]);
    const output = () => `simulate stdout:\n${sim.stdout}\nstderr:\n${sim.stderr}`;
    const latencies: Record<string, number> = {};
    try {
      const [, url] = await sim.waitFor(/listening on (http:\/\/\S+\/mcp)/, 60_000);
      const anonymous = () => initialize();
      const withKey = (value: string) => () => initialize({ authorization: `APIKEY ${value}` });

      await t.step("without a policy, anonymous requests are served", async () => {
        await statusWithin(url, anonymous, 200, 2000);
      });

      await t.step("a policy applied in the cluster takes effect within 2 s: the policy's 401", async () => {
        await cluster.apply(policy);
        latencies.create = await statusWithin(url, anonymous, 401, 2000);
        const refused = await fetch(url, anonymous());
        assertEquals(await refused.text(), "the cluster's policy says no");
        await sim.waitFor(new RegExp(`authpolicy ${ns}/mcp-auth added \\(applies to broker`), 2000);
      });

      await t.step(
        "the Secret it selects lets its key in; a changed Secret is followed within 2 s",
        async () => {
          await statusWithin(url, withKey(key), 200, 2000);
          const rotated = `rotated-${crypto.randomUUID()}`;
          await cluster.apply(secret(rotated));
          latencies.secret = await statusWithin(url, withKey(key), 401, 2000);
          await statusWithin(url, withKey(rotated), 200, 2000);
        },
      );

      await t.step("deleting the policy lets anonymous requests through within 2 s", async () => {
        await kubectl("delete", "authpolicy", "-n", ns, "mcp-auth");
        latencies.delete = await statusWithin(url, anonymous, 200, 2000);
        await sim.waitFor(new RegExp(`authpolicy ${ns}/mcp-auth removed`), 2000);
      });
      await t.step(
        "a jwt issuer that is a cluster Service is port-forwarded; its tokens get in",
        async () => {
          await using issuer = await startIssuer();
          // The in-cluster name the IdP knows itself by: its discovery document and tokens say so.
          const inCluster = `http://issuer.${ns}.svc.cluster.local/realms/test`;
          issuer.doc.issuer = inCluster;
          await cluster.apply(
            [
              testPodManifest({
                name: "issuer-0",
                namespace: ns,
                labels: { app: "issuer" },
                forward: { 8080: Number(new URL(issuer.url).port) },
              }),
              JSON.stringify({
                apiVersion: "v1",
                kind: "Service",
                metadata: { name: "issuer", namespace: ns },
                spec: { selector: { app: "issuer" }, ports: [{ port: 80, targetPort: 8080 }] },
              }),
            ].join("\n"),
          );
          await kubectl("wait", "--for=condition=Ready", "-n", ns, "pod/issuer-0", "--timeout=60s");
          await cluster.apply(stringify({
            apiVersion: "kuadrant.io/v1",
            kind: "AuthPolicy",
            metadata: { name: "jwt-auth", namespace: ns },
            spec: {
              targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "mcp-gateway" },
              rules: { authentication: { idp: { jwt: { issuerUrl: inCluster } } } },
            },
          }));
          await sim.waitFor(
            new RegExp(
              `note: ${ns}/jwt-auth: the issuer ${inCluster} is reached through a port-forward to Service ${ns}/issuer:80 \\(pod issuer-0\\)`,
            ),
            5000,
          );
          await statusWithin(url, anonymous, 401, 2000);
          const token = await issuer.sign({ iss: inCluster });
          latencies.issuer = await statusWithin(
            url,
            () => initialize({ authorization: `Bearer ${token}` }),
            200,
            5000,
          );
          assert(issuer.hits.discovery > 0, "the discovery document did not come through the port-forward");
          const forged = await issuer.sign({ iss: inCluster }, { key: await makeKey("k1") });
          const refused = await fetch(url, initialize({ authorization: `Bearer ${forged}` }));
          await refused.body?.cancel();
          assertEquals(refused.status, 401);
          await kubectl("delete", "authpolicy", "-n", ns, "jwt-auth");
          await statusWithin(url, anonymous, 200, 2000);
        },
      );
      console.log(`AuthPolicy reload latencies (ms): ${JSON.stringify(latencies)}`);
      assertEquals(await sim.interrupt(), 130);
      assertStringIncludes(sim.stdout, "Stopping.");
      assert(!`${sim.stdout}${sim.stderr}`.includes("key-"), `a key was printed\n${output()}`);
      assert(!`${sim.stdout}${sim.stderr}`.includes("rotated-"), `a key was printed\n${output()}`);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${output()}`, { cause: error });
    } finally {
      await sim[Symbol.asyncDispose]();
      await cluster.kubectl(["delete", "secret", "-n", KUADRANT_NS, secretName, "--wait=false"]);
      await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    }
  },
});
