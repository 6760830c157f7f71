import { assertEquals } from "../../test/helpers/assert.ts";
import { requestJson } from "../../test/helpers/auth_guides.ts";
import { compileResponse } from "../../sim/auth/response.ts";
import {
  describePolicyChanges,
  planAuth,
  planReplay,
  pointDenialsAtGateway,
  policiesForGateway,
  type ReplayObject,
  type ServiceBackend,
  staticResolver,
  type UpstreamResolver,
} from "./mod.ts";

const extension: ReplayObject = {
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPGatewayExtension",
  metadata: { name: "ext", namespace: "gateway-system" },
  spec: {
    targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: "gw", sectionName: "mcp" },
  },
};
const gateway = (name: string): ReplayObject => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "Gateway",
  metadata: { name, namespace: "gateway-system" },
  spec: { listeners: [{ name: "mcp", port: 8080, protocol: "HTTP" }] },
});
const route = (name: string, gatewayName: string): ReplayObject => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name, namespace: "mcp" },
  spec: {
    parentRefs: [{ name: gatewayName, namespace: "gateway-system" }],
    hostnames: [`${name}.mcp.local`],
    rules: [{ backendRefs: [{ name, port: 8080 }] }],
  },
});
const registration = (name: string): ReplayObject => ({
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPServerRegistration",
  metadata: { name, namespace: "mcp" },
  spec: { prefix: `${name}_`, targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name } },
});
const policy = (
  name: string,
  namespace: string,
  kind: string,
  target: string,
  rules: Record<string, unknown> = { authentication: { anyone: { anonymous: {} } } },
): ReplayObject => ({
  apiVersion: "kuadrant.io/v1",
  kind: "AuthPolicy",
  metadata: { name, namespace },
  spec: { targetRef: { group: "gateway.networking.k8s.io", kind, name: target }, rules },
});
const jwt = (issuerUrl: string) => ({ authentication: { idp: { jwt: { issuerUrl } } } });

Deno.test("policiesForGateway keeps the policies on this gateway and its routes, and those whose target is missing", () => {
  const objects = [
    extension,
    gateway("gw"),
    gateway("other-gw"),
    route("ours", "gw"),
    route("theirs", "other-gw"),
    policy("on-gw", "gateway-system", "Gateway", "gw"),
    policy("on-other-gw", "gateway-system", "Gateway", "other-gw"),
    policy("on-missing-gw", "gateway-system", "Gateway", "ghost"),
    policy("on-ours", "mcp", "HTTPRoute", "ours"),
    policy("on-theirs", "mcp", "HTTPRoute", "theirs"),
    policy("on-missing-route", "mcp", "HTTPRoute", "ghost"),
    // A Gateway of the same name in another namespace is another Gateway.
    policy("on-gw-elsewhere", "mcp", "Gateway", "gw"),
  ];
  assertEquals(policiesForGateway(objects, extension).map((p) => p.metadata?.name), [
    "on-gw",
    "on-missing-gw",
    "on-ours",
    "on-missing-route",
    "on-gw-elsewhere",
  ]);
  // Without an extension nothing says which gateway: all are kept (and reported by the gate).
  assertEquals(policiesForGateway(objects).length, 7);
});

Deno.test("policiesForGateway with kind RateLimitPolicy picks the RateLimitPolicies the same way, not the AuthPolicies", () => {
  const limit = (name: string, namespace: string, kind: string, target: string): ReplayObject => ({
    apiVersion: "kuadrant.io/v1",
    kind: "RateLimitPolicy",
    metadata: { name, namespace },
    spec: {
      targetRef: { group: "gateway.networking.k8s.io", kind, name: target },
      limits: { all: { rates: [{ limit: 5, window: "1m" }] } },
    },
  });
  const objects = [
    extension,
    gateway("gw"),
    gateway("other-gw"),
    route("ours", "gw"),
    route("theirs", "other-gw"),
    policy("auth-on-gw", "gateway-system", "Gateway", "gw"),
    limit("on-gw", "gateway-system", "Gateway", "gw"),
    limit("on-other-gw", "gateway-system", "Gateway", "other-gw"),
    limit("on-ours", "mcp", "HTTPRoute", "ours"),
    limit("on-theirs", "mcp", "HTTPRoute", "theirs"),
  ];
  assertEquals(
    policiesForGateway(objects, extension, { kind: "RateLimitPolicy" }).map((p) => p.metadata?.name),
    ["on-gw", "on-ours"],
  );
  assertEquals(policiesForGateway(objects, extension).map((p) => p.metadata?.name), ["auth-on-gw"]);
});

/** A resolver that reaches one Service at a fixed local address, as a port-forward would. */
function forwardingResolver(
  reachable: Record<string, string>,
): UpstreamResolver & { asked: ServiceBackend[] } {
  const asked: ServiceBackend[] = [];
  return {
    ...staticResolver({}),
    asked,
    forwardService(backend) {
      asked.push(backend);
      const url = reachable[`${backend.namespace}/${backend.service}:${backend.port}`];
      return Promise.resolve(
        url ? { url, target: `svc/${backend.service}:${backend.port}`, pod: `${backend.service}-0` } : {
          target: `svc/${backend.service}:${backend.port}`,
          reason: `services "${backend.service}" not found`,
        },
      );
    },
  };
}

Deno.test("planAuth port-forwards issuers that are cluster Services and overrides them to the local address", async () => {
  const kc = "http://keycloak.idp.svc.cluster.local:8080/realms/mcp";
  const resolver = forwardingResolver({ "idp/keycloak:8080": "http://127.0.0.1:41234" });
  const plan = await planAuth(
    [
      extension,
      policy("a", "gateway-system", "Gateway", "gw", jwt(kc)),
      // The same issuer twice is forwarded once.
      policy("b", "gateway-system", "Gateway", "gw", jwt(kc)),
      // `name.tld` is a Service only when one exists: a public name is left alone, silently.
      policy("c", "gateway-system", "Gateway", "gw", jwt("https://idp.example/realms/x")),
      // A `.svc` name that cannot be reached is said.
      policy("d", "gateway-system", "Gateway", "gw", jwt("http://gone.idp.svc:9000/")),
      // The command line wins: no port-forward.
      policy("e", "gateway-system", "Gateway", "gw", jwt("http://dex.idp.svc.cluster.local:5556/dex")),
      { apiVersion: "v1", kind: "Secret", metadata: { name: "s", namespace: "mcp" }, stringData: { k: "v" } },
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: {
          name: "key",
          namespace: "kuadrant-system",
          labels: { "authorino.kuadrant.io/managed-by": "authorino" },
        },
        stringData: { api_key: "k" },
      },
    ],
    extension,
    resolver,
    {
      issuerOverrides: { "http://dex.idp.svc.cluster.local:5556/dex": "http://127.0.0.1:5556/dex" },
    },
  );
  assertEquals(plan.issuerOverrides, {
    [kc]: "http://127.0.0.1:41234/realms/mcp",
    "http://dex.idp.svc.cluster.local:5556/dex": "http://127.0.0.1:5556/dex",
  });
  assertEquals(plan.forwards, ["svc:idp/keycloak:8080"]);
  assertEquals(resolver.asked.map((b) => `${b.namespace}/${b.service}:${b.port}`), [
    "idp/keycloak:8080",
    "example/idp:443",
    "idp/gone:9000",
  ]);
  assertEquals(plan.notes, [
    `gateway-system/a: the issuer ${kc} is reached through a port-forward to Service idp/keycloak:8080 (pod keycloak-0)`,
    "gateway-system/d: the issuer http://gone.idp.svc:9000/ is the cluster's Service idp/gone:9000, which cannot " +
    'be reached (services "gone" not found); its tokens get 401 unless --issuer-override points it at a reachable issuer',
  ]);
  // Only what Authorino can read: its label on it.
  assertEquals(plan.secrets.map((s) => `${s.namespace}/${s.name}`), ["kuadrant-system/key"]);
});

Deno.test("planAuth hands the gate the Secrets Authorino sees: its label, or a signing key by name", async () => {
  const secret = (name: string, labels: Record<string, string>): ReplayObject => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: "kuadrant-system", labels },
    stringData: { api_key: name },
  });
  const plan = await planAuth(
    [
      extension,
      policy("p", "gateway-system", "Gateway", "gw", {
        authentication: { keys: { apiKey: { selector: { matchLabels: { group: "friends" } } } } },
        response: {
          success: {
            headers: { w: { wristband: { signingKeyRefs: [{ name: "signer", algorithm: "ES256" }] } } },
          },
        },
      }),
      secret("labelled", { group: "friends", "authorino.kuadrant.io/managed-by": "authorino" }),
      secret("unlabelled", { group: "friends" }),
      secret("signer", {}),
      secret("unrelated", {}),
    ],
    extension,
    staticResolver({}),
  );
  assertEquals(plan.secrets.map((s) => s.name), ["labelled", "signer"]);
  assertEquals(plan.notes, [
    "Secret kuadrant-system/unlabelled matches an apiKey selector but lacks the label " +
    "authorino.kuadrant.io/managed-by=authorino, so Authorino does not see it; left out",
  ]);
});

Deno.test("planAuth from files: a cluster-Service issuer is said to be out of reach", async () => {
  const plan = await planAuth(
    [
      extension,
      policy("a", "gateway-system", "Gateway", "gw", jwt("http://keycloak.idp.svc:8080/realms/mcp")),
    ],
    extension,
    staticResolver({}),
  );
  assertEquals(plan.issuerOverrides, {});
  assertEquals(plan.notes.length, 1);
  assertEquals(plan.notes[0].includes("which files alone cannot reach"), true, plan.notes[0]);
});

Deno.test("planReplay with auth: the gateway's targets, its policies and the Secrets; without it none", async () => {
  const objects = [
    extension,
    route("weather", "gw"),
    registration("weather"),
    policy("gw-auth", "gateway-system", "Gateway", "gw"),
    policy("route-auth", "mcp", "HTTPRoute", "weather"),
  ];
  const plan = await planReplay(objects, staticResolver({ weather: "http://127.0.0.1:9/mcp" }), { auth: {} });
  assertEquals(plan.auth?.policies.map((p) => p.metadata?.name), ["gw-auth", "route-auth"]);
  assertEquals(plan.auth?.targets?.gateway.name, "gw");
  assertEquals([...plan.auth?.targets?.servers.keys() ?? []], ["mcp/weather"]);
  const without = await planReplay(objects, staticResolver({ weather: "http://127.0.0.1:9/mcp" }));
  assertEquals(without.auth, undefined);
});

Deno.test("describePolicyChanges: added, changed and removed policies, with where they apply", () => {
  const summary = {
    rows: [
      {
        policy: "ns/a",
        target: "Gateway ns/gw",
        phase: "rules" as const,
        strategy: "atomic" as const,
        rules: {},
        appliesTo: ["broker"],
      },
      {
        policy: "ns/b",
        target: "HTTPRoute ns/x",
        phase: "rules" as const,
        strategy: "atomic" as const,
        rules: {},
        appliesTo: [],
        reason: "HTTPRoute ns/x is not among the objects",
      },
    ],
    problems: [],
    unsupported: [],
  };
  assertEquals(
    describePolicyChanges(
      new Map([["ns/a", "1"], ["ns/c", "1"], ["ns/d", "1"]]),
      new Map([["ns/a", "2"], ["ns/b", "1"], ["ns/d", "1"]]),
      summary,
    ),
    [
      "authpolicy ns/a changed (applies to broker)",
      "authpolicy ns/b added (not applied: HTTPRoute ns/x is not among the objects)",
      "authpolicy ns/c removed",
    ],
  );
});

Deno.test("planAuth with the dev identity provider serves every issuer but an --issuer-override, and says which", async () => {
  const dev = { issuer: "http://127.0.0.1:7000", jwksUri: "http://127.0.0.1:7000/jwks" };
  const objects = [
    extension,
    gateway("gw"),
    policy("a", "gateway-system", "Gateway", "gw", jwt("https://idp.example.com/realms/mcp")),
    policy("b", "gateway-system", "Gateway", "gw", jwt("https://idp.example.com/realms/mcp")),
    policy("c", "gateway-system", "Gateway", "gw", jwt("https://other.example.com")),
    policy("d", "gateway-system", "Gateway", "gw", {
      authentication: { keys: { jwt: { jwksUrl: "https://keys.example.com/certs" } } },
    }),
  ];
  const plan = await planAuth(objects, extension, staticResolver({}), {
    devIdp: dev,
    issuerOverrides: { "https://other.example.com": "http://127.0.0.1:9000" },
  });
  assertEquals(plan.issuerOverrides, {
    "https://idp.example.com/realms/mcp": dev.issuer,
    "https://other.example.com": "http://127.0.0.1:9000",
    "https://keys.example.com/certs": dev.jwksUri,
  });
  assertEquals(plan.notes, [
    "the issuer https://idp.example.com/realms/mcp (gateway-system/a, gateway-system/b) is replaced by the dev identity provider http://127.0.0.1:7000",
    "the issuer https://keys.example.com/certs (gateway-system/d) is replaced by the dev identity provider http://127.0.0.1:7000",
  ]);
});

Deno.test("pointDenialsAtGateway: a 401's resource_metadata names this gateway's host, the rest of the value kept", () => {
  const written = policy("p", "gateway-system", "Gateway", "gw", {
    response: {
      unauthenticated: {
        headers: {
          "WWW-Authenticate": {
            value:
              'Bearer realm="mcp", resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"',
          },
          "X-Other": { value: "kept" },
        },
      },
      unauthorized: { headers: { "WWW-Authenticate": { expression: "'Bearer error=\"x\"'" } } },
    },
  });
  const notes: string[] = [];
  const served = pointDenialsAtGateway(written, notes);
  // The written policy is untouched; the served one evaluates against the request's host.
  assertEquals(
    ((written.spec!.rules as { response: { unauthenticated: { headers: Record<string, unknown> } } }).response
      .unauthenticated.headers["WWW-Authenticate"] as { value: string }).value.includes("mcp.example.com"),
    true,
  );
  const response = compileResponse((served.spec!.rules as { response: Record<string, unknown> }).response);
  const json = requestJson({ headers: { host: "127.0.0.1:8123" } });
  const denial = response.deny("unauthenticated", "credential not found", json);
  assertEquals(denial.headers, {
    "X-Ext-Auth-Reason": "credential not found",
    "WWW-Authenticate":
      'Bearer realm="mcp", resource_metadata="http://127.0.0.1:8123/.well-known/oauth-protected-resource/mcp"',
    "X-Other": "kept",
  });
  assertEquals(notes.length, 1);
  assertEquals(
    notes[0],
    "gateway-system/p: spec.rules.response.unauthenticated.headers.WWW-Authenticate points clients at " +
      "https://mcp.example.com/.well-known/oauth-protected-resource/mcp; served as this gateway's " +
      "/.well-known/oauth-protected-resource/mcp so they log in at the dev identity provider",
  );
  // Nothing to point: the same object back.
  assertEquals(
    pointDenialsAtGateway(policy("q", "ns", "Gateway", "gw"), []),
    policy("q", "ns", "Gateway", "gw"),
  );
});
