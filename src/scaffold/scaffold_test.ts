import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { UsageError } from "../errors.ts";
import { prefixFromName, scaffoldGateway, scaffoldRegistration, scaffoldVirtualServer } from "./mod.ts";

Deno.test("prefixFromName drops noise suffixes and follows the CRD pattern", () => {
  assertEquals(prefixFromName("github-mcp"), "github_");
  assertEquals(prefixFromName("weather"), "weather_");
  assertEquals(prefixFromName("My.Cool-Server"), "my_cool_");
  assertEquals(prefixFromName("kube-mcp-server"), "kube_");
  assertEquals(prefixFromName("mcp"), "mcp_");
  assertThrows(() => prefixFromName("---"), UsageError, "cannot derive a tool prefix");
});

Deno.test("a registration from a Service creates the single-rule HTTPRoute the gateway requires", () => {
  const [route, registration] = scaffoldRegistration({
    name: "weather",
    namespace: "mcp",
    service: { name: "weather-svc", port: 8080, hostname: "weather.mcp.local" },
  });
  assertEquals(route.kind, "HTTPRoute");
  const spec = route.spec as { rules: { backendRefs: unknown[] }[]; hostnames: string[] };
  assertEquals(spec.rules.length, 1);
  assertEquals(spec.rules[0].backendRefs, [{ name: "weather-svc", port: 8080 }]);
  assertEquals(spec.hostnames, ["weather.mcp.local"]);
  assertEquals((registration.spec as { targetRef: { name: string } }).targetRef.name, "weather-route");
});

Deno.test("--route and --service exclude each other, and one is required", () => {
  assertThrows(
    () => scaffoldRegistration({ name: "x", namespace: "d" }),
    UsageError,
    "one of --route or --service",
  );
  assertThrows(
    () =>
      scaffoldRegistration({
        name: "x",
        namespace: "d",
        route: { name: "r" },
        service: { name: "s", port: 1, hostname: "h" },
      }),
    UsageError,
    "cannot be used together",
  );
});

Deno.test("an explicit invalid prefix is rejected before anything is created", () => {
  assertThrows(
    () => scaffoldRegistration({ name: "x", namespace: "d", route: { name: "r" }, prefix: "Bad-Prefix" }),
    UsageError,
    "--prefix",
  );
});

Deno.test("an empty prefix leaves spec.prefix out", () => {
  const [registration] = scaffoldRegistration({
    name: "x",
    namespace: "d",
    route: { name: "r" },
    prefix: "",
  });
  assertEquals("prefix" in (registration.spec as object), false);
});

Deno.test("a literal credential creates a Secret with the label the gateway requires", () => {
  const objects = scaffoldRegistration({
    name: "x",
    namespace: "d",
    route: { name: "r" },
    credential: { name: "x-token" },
    credentialLiteral: "Bearer abc",
  });
  const secret = objects.find((object) => object.kind === "Secret")!;
  assertEquals(secret.metadata.labels, { "mcp.kuadrant.io/secret": "true" });
  assertEquals(secret.stringData, { token: "Bearer abc" });
});

Deno.test("gateway init with an issuer wires the AuthPolicy to the protected-resource metadata", () => {
  const [extension, policy] = scaffoldGateway({
    gateway: { name: "gw", namespace: "gateway-system" },
    listener: "mcp",
    publicHost: "mcp.example.com",
    authIssuer: "https://idp.example.com/realms/mcp",
  });
  assertEquals((extension.spec as { publicHost: string }).publicHost, "mcp.example.com");
  const response = (policy.spec as {
    rules: { response: { unauthenticated: { headers: Record<string, { value: string }> } } };
  })
    .rules.response.unauthenticated;
  assertEquals(
    response.headers["WWW-Authenticate"].value,
    "Bearer resource_metadata=https://mcp.example.com/.well-known/oauth-protected-resource/mcp",
  );
});

Deno.test("a virtual server needs at least one tool and drops duplicates", () => {
  assertThrows(() => scaffoldVirtualServer({ name: "v", namespace: "d", tools: [] }), UsageError);
  const object = scaffoldVirtualServer({ name: "v", namespace: "d", tools: ["a_x", "a_x", "b_y"] });
  assertEquals((object.spec as { tools: string[] }).tools, ["a_x", "b_y"]);
});
