/**
 * `kubernetesSubjectAccessReview` authorization against the real kube-apiserver of the test cluster:
 * the SubjectAccessReview Authorino builds (user and groups from the authorization JSON, resource
 * attributes from values, selectors and expressions, or the request's path and verb as non-resource
 * attributes) is allowed or denied by the RBAC objects applied here, with Authorino's reason.
 */

import { parse } from "yaml";
import { assert, assertEquals } from "./helpers/assert.ts";
import { requestJson } from "./helpers/auth_guides.ts";
import { sharedCluster } from "./cluster/cluster.ts";
import { KubeClient } from "../src/kube/client.ts";
import { KubeReviews } from "../src/kube/reviews.ts";
import {
  AuthorizationDenied,
  type AuthorizationRule,
  authorize,
  compileAuthorization,
} from "../sim/auth/authorization.ts";
import type { AuthorizationJson } from "../sim/auth/types.ts";

Deno.test("kubernetesSubjectAccessReview against the real API server: RBAC allows and denies", async (t) => {
  const cluster = await sharedCluster();
  const ns = `sar-${crypto.randomUUID().slice(0, 8)}`;
  const group = `mcp-callers-${ns}`;
  await cluster.apply(`apiVersion: v1
kind: Namespace
metadata: {name: ${ns}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: ${ns}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-tools, namespace: ${ns}}
rules:
- apiGroups: [""]
  resources: [configmaps]
  resourceNames: [weather]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: agent-read-tools, namespace: ${ns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-tools}
subjects:
- {kind: ServiceAccount, name: agent, namespace: ${ns}}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: ${group}}
rules:
- nonResourceURLs: [/mcp]
  verbs: [post]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ${group}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: ${group}}
subjects:
- {kind: Group, apiGroup: rbac.authorization.k8s.io, name: ${group}}
`);
  using client = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });
  const kube = new KubeReviews(client);
  const agent = `system:serviceaccount:${ns}:agent`;

  // As the Authorino docs write it: values, a selector and CEL expressions.
  const authorization = parse(`
kubernetes-rbac:
  kubernetesSubjectAccessReview:
    user:
      selector: auth.identity.user.username
    resourceAttributes:
      namespace:
        value: ${ns}
      group:
        value: ""
      resource:
        value: configmaps
      name:
        expression: request.path.split('/')[2]
      verb:
        expression: "request.method == 'GET' ? 'get' : 'delete'"
`) as Record<string, Record<string, unknown>>;
  const nonResource = parse(`
mcp-endpoint:
  kubernetesSubjectAccessReview:
    user:
      expression: auth.identity.user.username
    authorizationGroups:
      expression: auth.identity.user.groups
`) as Record<string, Record<string, unknown>>;
  const compile = (rules: Record<string, Record<string, unknown>>): AuthorizationRule[] =>
    Object.entries(rules).map(([name, spec]) => {
      const rule = compileAuthorization(name, spec, { kube });
      assert(!("reason" in rule), JSON.stringify(rule));
      return rule as AuthorizationRule;
    });
  // A TokenReview status, as kubernetesTokenReview puts it at auth.identity.
  const identity = (username: string, groups: string[] = []) => ({
    authenticated: true,
    user: { username, groups: [...groups, "system:authenticated"] },
  });
  const denied = async (rules: AuthorizationRule[], json: AuthorizationJson) => {
    try {
      await authorize(rules, json);
    } catch (err) {
      if (err instanceof AuthorizationDenied) return err;
      throw err;
    }
    throw new Error("the request was allowed");
  };

  try {
    await t.step("resource attributes: the bound ServiceAccount may get the named ConfigMap", async () => {
      const json = requestJson({ method: "GET", path: "/tools/weather", identity: identity(agent) });
      await authorize(compile(authorization), json);
      assertEquals(json.auth.authorization, { "kubernetes-rbac": true });
    });

    await t.step("resource attributes: another verb, another name, another user are denied", async () => {
      const rules = compile(authorization);
      const cases: [string, AuthorizationJson][] = [
        ["delete", requestJson({ method: "DELETE", path: "/tools/weather", identity: identity(agent) })],
        ["other name", requestJson({ method: "GET", path: "/tools/news", identity: identity(agent) })],
        ["other user", requestJson({ method: "GET", path: "/tools/weather", identity: identity("mallory") })],
      ];
      for (const [what, json] of cases) {
        const err = await denied(rules, json);
        assertEquals(err.rule, "kubernetes-rbac", what);
        assert(err.reason.startsWith("not authorized: "), `${what}: ${err.reason}`);
        assertEquals(json.auth.authorization, {}, what);
      }
    });

    await t.step(
      "non-resource attributes: the request's path and verb, allowed by group membership",
      async () => {
        const rules = compile(nonResource);
        const member = requestJson({ method: "POST", path: "/mcp", identity: identity("alice", [group]) });
        await authorize(rules, member);
        assertEquals(member.auth.authorization, { "mcp-endpoint": true });

        const outsider = await denied(
          rules,
          requestJson({ method: "POST", path: "/mcp", identity: identity("bob", ["other"]) }),
        );
        assert(outsider.reason.startsWith("not authorized: "), outsider.reason);
        const get = await denied(
          rules,
          requestJson({ method: "GET", path: "/mcp", identity: identity("alice", [group]) }),
        );
        assert(get.reason.startsWith("not authorized: "), get.reason);
      },
    );

    await t.step(
      "groups that fail or do not resolve to a list deny with Authorino's error, before any review",
      async () => {
        const missing = await denied(
          compile(nonResource),
          requestJson({ method: "POST", path: "/mcp", identity: { user: { username: "x" } } }),
        );
        assertEquals(
          missing.reason,
          'CEL expression "auth.identity.user.groups" failed: no such key: groups',
        );
        const notAList = compile({
          "not-a-list": {
            kubernetesSubjectAccessReview: {
              authorizationGroups: { selector: "auth.identity.user.username" },
            },
          },
        });
        const err = await denied(
          notAList,
          requestJson({ method: "POST", path: "/mcp", identity: identity("xavier") }),
        );
        assertEquals(err.reason, "invalid character 'x' looking for beginning of value");
      },
    );
    await t.step("a changed RoleBinding applies to the next review", async () => {
      const { code, stderr } = await cluster.kubectl(["delete", "rolebinding", "agent-read-tools", "-n", ns]);
      assertEquals(code, 0, stderr);
      const json = requestJson({ method: "GET", path: "/tools/weather", identity: identity(agent) });
      const err = await denied(compile(authorization), json);
      assert(err.reason.startsWith("not authorized: "), err.reason);
    });
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    await cluster.kubectl(["delete", "clusterrole,clusterrolebinding", group, "--ignore-not-found"]);
  }
});
