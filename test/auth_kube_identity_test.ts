/**
 * `kubernetesTokenReview` authentication and the review client against the real kube-apiserver of
 * the test cluster: a ServiceAccount token made by `kubectl create token` is accepted with the
 * audience Authorino asks for (the request's host by default, or the method's `audiences`), a bogus
 * token and a token for another audience are not, and a SubjectAccessReview answers by RBAC.
 */

import { assert, assertEquals } from "./helpers/assert.ts";
import { sharedCluster, type TestCluster } from "./cluster/cluster.ts";
import { KubeClient } from "../src/kube/client.ts";
import { KubeReviews } from "../src/kube/reviews.ts";
import { buildAuthorizationJson } from "../sim/auth/authorization_json.ts";
import { authenticate, compileIdentity, type IdentityMethod } from "../sim/auth/identity.ts";
import type { AuthRequest } from "../sim/auth/types.ts";

function request(url: string, headers: Record<string, string> = {}): AuthRequest {
  const request = new Request(url, { headers });
  return {
    request,
    headers: request.headers,
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
}

async function createToken(cluster: TestCluster, ns: string, sa: string, audience?: string): Promise<string> {
  const args = ["create", "token", sa, "-n", ns, "--duration=10m"];
  if (audience) args.push(`--audience=${audience}`);
  const { code, stdout, stderr } = await cluster.kubectl(args);
  assertEquals(code, 0, stderr);
  return stdout.trim();
}

Deno.test("kubernetesTokenReview against the real API server: ServiceAccount tokens, audiences, a bogus token", async (t) => {
  const cluster = await sharedCluster();
  const ns = `tr-${crypto.randomUUID().slice(0, 8)}`;
  await cluster.apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: ${ns}}
`);
  using client = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });
  const kube = new KubeReviews(client);
  const ctx = { namespace: "kuadrant-system", kube };
  const compile = (spec: Record<string, unknown>): IdentityMethod => {
    const method = compileIdentity("k8s-sa", spec, ctx);
    assert("verify" in method, JSON.stringify(method));
    return method;
  };
  const host = "mcp.127-0-0-1.sslip.io";
  const gateway = `http://${host}:8001/mcp`;
  const run = async (method: IdentityMethod, req: AuthRequest) =>
    await authenticate([method], req, buildAuthorizationJson(req));

  await t.step(
    "a token for the request's host is accepted; the identity is the TokenReview status",
    async () => {
      const token = await createToken(cluster, ns, "agent", host);
      const result = await run(
        compile({ kubernetesTokenReview: {} }),
        request(gateway, { authorization: `Bearer ${token}`, host: `${host}:8001` }),
      );
      // Envoy's host attribute keeps the port; Authorino asks for it as is, so the token must name it.
      assert(!result.authenticated, "the audience is the Host header with its port");
      const withPort = await createToken(cluster, ns, "agent", `${host}:8001`);
      const ok = await run(
        compile({ kubernetesTokenReview: {} }),
        request(gateway, { authorization: `Bearer ${withPort}`, host: `${host}:8001` }),
      );
      assert(ok.authenticated, JSON.stringify(ok));
      const identity = ok.identity as {
        authenticated: boolean;
        user: { username: string; groups: string[] };
        audiences: string[];
      };
      assertEquals(identity.authenticated, true);
      assertEquals(identity.user.username, `system:serviceaccount:${ns}:agent`);
      assert(identity.user.groups.includes(`system:serviceaccounts:${ns}`));
      assertEquals(identity.audiences, [`${host}:8001`]);
    },
  );

  await t.step("configured audiences replace the host", async () => {
    const method = compile({ kubernetesTokenReview: { audiences: ["mcp-gateway"] } });
    const good = await createToken(cluster, ns, "agent", "mcp-gateway");
    const ok = await run(method, request(gateway, { authorization: `Bearer ${good}` }));
    assert(ok.authenticated, JSON.stringify(ok));
    assertEquals((ok.identity as { audiences: string[] }).audiences, ["mcp-gateway"]);
    const apiAudience = await createToken(cluster, ns, "agent");
    const denied = await run(method, request(gateway, { authorization: `Bearer ${apiAudience}` }));
    assert(!denied.authenticated);
    assertEquals(denied.message, "not authenticated");
  });

  await t.step(
    "a bogus token, a missing one and a token of a deleted ServiceAccount are rejected",
    async () => {
      const method = compile({ kubernetesTokenReview: { audiences: ["mcp-gateway"] } });
      const good = await createToken(cluster, ns, "agent", "mcp-gateway");
      const [header, payload] = good.split(".");
      for (const bogus of ["not-a-token", `${header}.${payload}.AAAA`, `${good}x`]) {
        const result = await run(method, request(gateway, { authorization: `Bearer ${bogus}` }));
        assert(!result.authenticated);
        assertEquals(result.message, "not authenticated");
        assert(!result.message.includes(bogus));
      }
      const missing = await run(method, request(gateway));
      assert(!missing.authenticated);
      assertEquals(missing.message, "credential not found");
      assertEquals(missing.challenges, ['Bearer realm="k8s-sa"']);
      const { code, stderr } = await cluster.kubectl([
        "delete",
        "serviceaccount",
        "agent",
        "-n",
        ns,
        "--wait",
      ]);
      assertEquals(code, 0, stderr);
      const gone = await run(method, request(gateway, { authorization: `Bearer ${good}` }));
      assert(!gone.authenticated);
    },
  );

  await t.step("SubjectAccessReview answers by RBAC", async () => {
    const allowed = await kube.subjectAccessReview({
      user: "system:admin",
      groups: ["system:masters"],
      resourceAttributes: { verb: "get", resource: "pods", namespace: ns },
    });
    assertEquals(allowed.allowed, true);
    const denied = await kube.subjectAccessReview({
      user: `system:serviceaccount:${ns}:nobody`,
      resourceAttributes: { verb: "delete", resource: "secrets", namespace: ns },
    });
    assertEquals(denied.allowed, false);
  });

  await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
});
