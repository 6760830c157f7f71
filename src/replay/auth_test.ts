import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { UsageError } from "../errors.ts";
import {
  authConfigNamespace,
  authSecretRefs,
  issuerUrlsOf,
  labelSelectorQuery,
  matchesLabelSelector,
  parseIssuerOverrides,
  type ReplayObject,
  secretObjectsOf,
  serviceOfUrl,
} from "./mod.ts";

const policy = (name: string, spec: Record<string, unknown>, namespace = "mcp"): ReplayObject => ({
  apiVersion: "kuadrant.io/v1",
  kind: "AuthPolicy",
  metadata: { name, namespace },
  spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw" }, ...spec },
});

Deno.test("labelSelectorQuery writes the API server's selector syntax; malformed is undefined", () => {
  assertEquals(labelSelectorQuery(undefined), "");
  assertEquals(labelSelectorQuery({ matchLabels: { group: "friends" } }), "group=friends");
  assertEquals(
    labelSelectorQuery({
      matchLabels: { a: "b" },
      matchExpressions: [
        { key: "tier", operator: "In", values: ["gold", "silver"] },
        { key: "old", operator: "NotIn", values: ["x"] },
        { key: "has", operator: "Exists" },
        { key: "banned", operator: "DoesNotExist" },
      ],
    }),
    "a=b,tier in (gold,silver),old notin (x),has,!banned",
  );
  assertEquals(labelSelectorQuery({ matchExpressions: [{ key: "a", operator: "Near" }] }), undefined);
  assertEquals(labelSelectorQuery("a=b"), undefined);
});

Deno.test("authSecretRefs: apiKey selectors in the AuthConfig namespace (allNamespaces: any), signing keys by name there, each once", () => {
  const apiKey = (selector: unknown, allNamespaces?: boolean) => ({
    apiKey: { selector, ...(allNamespaces === undefined ? {} : { allNamespaces }) },
  });
  const refs = authSecretRefs([
    policy("a", {
      rules: {
        authentication: {
          keys: apiKey({ matchLabels: { app: "mcp" } }),
          everywhere: apiKey({ matchLabels: { app: "mcp" } }, true),
          broken: apiKey({ matchExpressions: [{ key: "x", operator: "?" }] }),
        },
        response: {
          success: {
            headers: {
              "x-mcp-authorized": {
                wristband: { issuer: "https://x", signingKeyRefs: [{ name: "wb-key", algorithm: "ES256" }] },
              },
            },
          },
        },
      },
    }),
    policy("b", {
      defaults: { rules: { authentication: { keys: apiKey({ matchLabels: { app: "mcp" } }) } } },
      overrides: {
        rules: {
          response: {
            success: {
              headers: { w: { wristband: { signingKeyRefs: [{ name: "wb-key", algorithm: "RS256" }] } } },
            },
          },
        },
      },
    }, "other"),
  ]);
  // Kuadrant puts every AuthConfig in its own namespace: the policies' namespaces do not matter.
  const query = "authorino.kuadrant.io/managed-by=authorino,app=mcp";
  assertEquals(refs.selectors, [
    { namespace: "kuadrant-system", labelSelector: query, selector: { matchLabels: { app: "mcp" } } },
    { namespace: null, labelSelector: query, selector: { matchLabels: { app: "mcp" } } },
  ]);
  assertEquals(refs.named, [{ namespace: "kuadrant-system", name: "wb-key" }]);
  assertEquals(
    authSecretRefs([policy("c", { rules: { authentication: { k: apiKey({}) } } })], "kuadrant").selectors,
    [
      { namespace: "kuadrant", labelSelector: "authorino.kuadrant.io/managed-by=authorino", selector: {} },
    ],
  );
});

Deno.test("authConfigNamespace: the Kuadrant object's namespace, else kuadrant-system", () => {
  assertEquals(authConfigNamespace([]), "kuadrant-system");
  assertEquals(
    authConfigNamespace([{
      apiVersion: "kuadrant.io/v1beta1",
      kind: "Kuadrant",
      metadata: { name: "k", namespace: "kd" },
    }]),
    "kd",
  );
});

Deno.test("matchesLabelSelector follows the API server's rules", () => {
  const labels = { app: "mcp", tier: "gold" };
  assertEquals(matchesLabelSelector({ matchLabels: { app: "mcp" } }, labels), true);
  assertEquals(matchesLabelSelector({ matchLabels: { app: "web" } }, labels), false);
  assertEquals(matchesLabelSelector({}, labels), true);
  assertEquals(
    matchesLabelSelector({
      matchExpressions: [
        { key: "tier", operator: "In", values: ["gold"] },
        { key: "x", operator: "DoesNotExist" },
        { key: "app", operator: "Exists" },
        { key: "tier", operator: "NotIn", values: ["silver"] },
      ],
    }, labels),
    true,
  );
  assertEquals(
    matchesLabelSelector(
      { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["gold"] }] },
      labels,
    ),
    false,
  );
  assertEquals(matchesLabelSelector({ matchExpressions: [{ key: "a", operator: "Near" }] }, labels), false);
});

Deno.test("secretObjectsOf decodes data, lays stringData over it, and drops what is not base64", () => {
  const [secret] = secretObjectsOf([
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "k", namespace: "mcp", labels: { app: "mcp" } },
      data: { api_key: btoa("ndyBzreUzF4zqDQsqSPMHkRhriEOtcRx"), bad: "%%%", both: btoa("old") },
      stringData: { both: "new" },
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "b" } },
  ]);
  assertEquals(secret, {
    namespace: "mcp",
    name: "k",
    labels: { app: "mcp" },
    annotations: {},
    data: { api_key: "ndyBzreUzF4zqDQsqSPMHkRhriEOtcRx", both: "new" },
  });
});

Deno.test("issuerUrlsOf finds every jwt issuerUrl and jwksUrl with its path", () => {
  const uses = issuerUrlsOf([
    policy("a", {
      rules: {
        authentication: {
          kc: { jwt: { issuerUrl: "http://keycloak.idp.svc.cluster.local:8080/realms/mcp" } },
        },
      },
      defaults: {
        rules: { authentication: { other: { jwt: { jwksUrl: "https://idp.example.com/jwks" } } } },
      },
    }),
  ]);
  assertEquals(uses, [
    {
      policy: "mcp/a",
      path: "spec.rules.authentication.kc.jwt.issuerUrl",
      url: "http://keycloak.idp.svc.cluster.local:8080/realms/mcp",
    },
    {
      policy: "mcp/a",
      path: "spec.defaults.rules.authentication.other.jwt.jwksUrl",
      url: "https://idp.example.com/jwks",
    },
  ]);
});

Deno.test("serviceOfUrl reads cluster DNS names; public names and addresses are not Services", () => {
  assertEquals(serviceOfUrl("http://keycloak.idp.svc.cluster.local:8080/realms/mcp", "mcp"), {
    service: "keycloak",
    namespace: "idp",
    port: 8080,
    certain: true,
  });
  assertEquals(serviceOfUrl("https://keycloak.idp.svc/realms/mcp", "mcp"), {
    service: "keycloak",
    namespace: "idp",
    port: 443,
    certain: true,
  });
  assertEquals(serviceOfUrl("http://keycloak.idp:8080", "mcp"), {
    service: "keycloak",
    namespace: "idp",
    port: 8080,
    certain: false,
  });
  assertEquals(serviceOfUrl("http://keycloak", "mcp"), {
    service: "keycloak",
    namespace: "mcp",
    port: 80,
    certain: true,
  });
  for (
    const url of [
      "http://127.0.0.1:8080",
      "http://localhost:1",
      "https://idp.example.com/x",
      "http://[::1]:80",
      "nope",
    ]
  ) {
    assertEquals(serviceOfUrl(url, "mcp"), undefined, url);
  }
});

Deno.test("parseIssuerOverrides takes OLD=NEW URL pairs and refuses anything else", () => {
  assertEquals(
    parseIssuerOverrides([
      "https://idp.example.com/realms/mcp=http://127.0.0.1:8081/realms/mcp",
      "http://a/x?y=1=http://b/",
    ]),
    {
      "https://idp.example.com/realms/mcp": "http://127.0.0.1:8081/realms/mcp",
      "http://a/x?y=1": "http://b/",
    },
  );
  for (const bad of ["https://idp.example.com", "idp=http://x", "https://a=b", "=http://x"]) {
    assertThrows(() => parseIssuerOverrides([bad]), UsageError, "--issuer-override");
  }
});
