import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { UsageError } from "../errors.ts";
import {
  brokerFlags,
  describeChanges,
  objectsForGateway,
  overlay,
  parseUpstreams,
  planReplay,
  registrationSpec,
  type ReplayObject,
  routeBackend,
  selectExtension,
  staticResolver,
  withModelDefaults,
} from "./mod.ts";

const route = (
  name: string,
  gateway: string,
  rules: unknown[] = [{ backendRefs: [{ name, port: 8080 }] }],
) => ({
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "HTTPRoute",
  metadata: { name, namespace: "mcp" },
  spec: { parentRefs: [{ name: gateway, namespace: "gateway-system" }], hostnames: [`${name}.local`], rules },
});
const registration = (name: string, routeName: string, spec: Record<string, unknown> = {}): ReplayObject => ({
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPServerRegistration",
  metadata: { name, namespace: "mcp" },
  spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name: routeName }, ...spec },
});
const extension = (name: string, gateway: string, spec: Record<string, unknown> = {}): ReplayObject => ({
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPGatewayExtension",
  metadata: { name, namespace: "gateway-system" },
  spec: {
    targetRef: { group: "gateway.networking.k8s.io", kind: "Gateway", name: gateway, sectionName: "mcp" },
    ...spec,
  },
});

Deno.test("overlay replaces objects of the same kind and name, keeps the rest", () => {
  const merged = overlay(
    [registration("a", "a"), registration("b", "b")],
    [registration("b", "b", { prefix: "new_" })],
  );
  assertEquals(merged.length, 2);
  assertEquals(merged.find((o) => o.metadata?.name === "b")?.spec?.prefix, "new_");
});

Deno.test("selectExtension takes the only one, a named one, and asks when there are several", () => {
  assertEquals(selectExtension([extension("one", "gw")])?.metadata?.name, "one");
  const two = [extension("one", "gw"), extension("two", "other")];
  assertThrows(() => selectExtension(two), UsageError, "--gateway-extension");
  assertEquals(selectExtension(two, "gateway-system/two")?.metadata?.name, "two");
  assertThrows(() => selectExtension(two, "gateway-system/three"), UsageError, "not found");
});

Deno.test("objectsForGateway keeps registrations whose route attaches to the extension's Gateway", () => {
  const objects = [
    extension("ext", "gw"),
    route("mine", "gw"),
    route("theirs", "other-gw"),
    registration("mine", "mine"),
    registration("theirs", "theirs"),
    registration("unknown-route", "nowhere"),
  ];
  const kept = objectsForGateway(objects, objects[0]).filter((o) => o.kind === "MCPServerRegistration");
  assertEquals(kept.map((o) => o.metadata?.name), ["mine", "unknown-route"]);
});

Deno.test("routeBackend names the Service, or says why the route cannot be followed", () => {
  assertEquals(routeBackend(registration("a", "a"), [route("a", "gw")]), {
    namespace: "mcp",
    service: "a",
    port: 8080,
  });
  const missing = routeBackend(registration("a", "nope"), []);
  assertEquals("reason" in missing && missing.reason, "HTTPRoute mcp/nope not found");
  const twoRules = routeBackend(registration("a", "a"), [
    route("a", "gw", [{ backendRefs: [] }, { backendRefs: [] }]),
  ]);
  assertEquals("reason" in twoRules && twoRules.reason.includes("exactly one rule"), true);
});

Deno.test("parseUpstreams takes NAME=URL and refuses anything else", () => {
  assertEquals(parseUpstreams(["a=http://127.0.0.1:1/mcp", "ns/b=https://x"]), {
    a: "http://127.0.0.1:1/mcp",
    "ns/b": "https://x",
  });
  assertThrows(() => parseUpstreams(["a"]), UsageError, "NAME=URL");
  assertThrows(() => parseUpstreams(["a=ftp://x"]), UsageError, "NAME=URL");
});

Deno.test("planReplay applies the extension's settings and keeps unresolved servers with their reason", async () => {
  const objects = [
    extension("ext", "gw", { backendPingIntervalSeconds: 15, maxBodyBytes: 2048 }),
    route("a", "gw"),
    registration("a", "a", { prefix: "a_" }),
    registration("b", "a", { prefix: "b_" }),
    registration("off", "a", { prefix: "off_", state: "Disabled" }),
  ];
  const plan = await planReplay(objects, staticResolver({ a: "http://127.0.0.1:9/mcp" }));
  assertEquals(plan.config.extension.backendPingIntervalSeconds, 15);
  assertEquals(plan.config.extension.maxBodyBytes, 2048);
  assertEquals(plan.config.servers.map((s) => s.name), ["mcp/a"]);
  assertEquals(plan.resolutions.get("mcp/b")?.reason?.includes("--upstream"), true);
  assertEquals(plan.resolutions.get("mcp/off")?.disabled, true);
});

Deno.test("describeChanges reports additions, removals and state changes, nothing else", () => {
  const row = (name: string, state: string, tools: number) => ({
    name,
    prefix: "",
    target: "t",
    tools,
    state,
  });
  assertEquals(
    describeChanges(
      [row("a", "ready", 2), row("b", "ready", 1), row("c", "ready", 1)],
      [row("a", "ready", 2), row("b", "unhealthy", 0), row("d", "ready", 3)],
    ),
    ["server b changed (unhealthy, 0 tools)", "server d added (ready, 3 tools)", "server c removed"],
  );
});

Deno.test("the replay reads MCP objects with the model's defaults, as the API server stores them", () => {
  const [defaulted, route] = withModelDefaults([registration("a", "a"), {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "a" },
  }]);
  assertEquals(defaulted.spec?.path, "/mcp");
  assertEquals(defaulted.spec?.state, "Enabled");
  assertEquals(defaulted.spec?.category, ["uncategorised"]);
  assertEquals(route.spec, undefined);
  assertEquals(registrationSpec(defaulted).targetRef.kind, "HTTPRoute");
});

const brokerDeployment = (namespace: string, command: string[], args: string[] = []): ReplayObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "mcp-gateway", namespace },
  spec: { template: { spec: { containers: [{ name: "mcp-gateway", command, args }] } } },
});

Deno.test("brokerFlags reads Go flag forms from the Deployment beside the extension, and says what it refuses", () => {
  const ext = extension("ext", "gw");
  const flags = brokerFlags([
    brokerDeployment("gateway-system", ["./mcp_gateway", "--mcp-gateway-config=/config/config.yaml"], [
      "-discovery-tool-threshold",
      "20",
      "--discovery-tools-enabled=F",
      "--invalid-tool-policy=RejectServer",
    ]),
    brokerDeployment("elsewhere", ["./mcp_gateway", "--discovery-tool-threshold=1"]),
  ], ext);
  assertEquals(flags?.deployment, "gateway-system/mcp-gateway");
  assertEquals(flags?.settings, {
    discoveryTools: false,
    discoveryToolThreshold: 20,
    invalidToolPolicy: "RejectServer",
  });
  assertEquals(flags?.flags, [
    "--discovery-tools-enabled=F",
    "-discovery-tool-threshold 20",
    "--invalid-tool-policy=RejectServer",
  ]);
  assertEquals(brokerFlags([brokerDeployment("elsewhere", ["x"])], ext), undefined);
  assertEquals(
    brokerFlags([brokerDeployment("gateway-system", ["x", "--discovery-tools-enabled"])], ext)?.settings,
    {
      discoveryTools: true,
    },
  );
  assertEquals(
    brokerFlags([brokerDeployment("gateway-system", ["x", "--enforce-capability-filtering"])], ext)?.settings,
    { enforceCapabilityFilter: true },
  );
  const bad = brokerFlags([
    brokerDeployment("gateway-system", [
      "x",
      "--enforce-capability-filtering=maybe",
      "--discovery-tool-threshold=lots",
      "--invalid-tool-policy=Drop",
    ]),
  ], ext);
  assertEquals(bad?.settings, {});
  assertEquals(bad?.problems, [
    "--enforce-capability-filtering=maybe: not a boolean",
    "--discovery-tool-threshold=lots: not a whole number",
    "--invalid-tool-policy=Drop: must be FilterOut or RejectServer",
  ]);
});

Deno.test("planReplay: the broker's flags set what no CRD field does; the command line wins over them", async () => {
  const objects = [
    extension("ext", "gw", { maxBodyBytes: 4096 }),
    brokerDeployment("gateway-system", [
      "./mcp_gateway",
      "--discovery-tool-threshold=5",
      "--invalid-tool-policy=RejectServer",
    ]),
  ];
  const resolver = staticResolver({});
  const plan = await planReplay(objects, resolver);
  assertEquals(plan.broker?.flags, ["--discovery-tool-threshold=5", "--invalid-tool-policy=RejectServer"]);
  assertEquals(
    [
      plan.config.extension.discoveryToolThreshold,
      plan.config.extension.invalidToolPolicy,
      plan.config.extension.maxBodyBytes,
    ],
    [5, "RejectServer", 4096],
  );
  const overridden = await planReplay(objects, resolver, { settings: { discoveryToolThreshold: 0 } });
  assertEquals([
    overridden.config.extension.discoveryToolThreshold,
    overridden.config.extension.invalidToolPolicy,
  ], [
    0,
    "RejectServer",
  ]);
});

Deno.test("planReplay serves tokenURLElicitation and userSpecificList as the cluster does, without notes", async () => {
  const plan = await planReplay([
    extension("ext", "gw", { urlElicitation: "Enabled" }),
    registration("mine", "mine", { prefix: "mine_", userSpecificList: "Enabled" }),
    registration("tokens", "tokens", { prefix: "t_", tokenURLElicitation: { url: "https://vault.test/ui" } }),
    registration("plain", "plain", { prefix: "p_" }),
  ], staticResolver({ "mcp/mine": "http://127.0.0.1:1/mcp", "mcp/tokens": "http://127.0.0.1:2/mcp" }));
  assertEquals(plan.notes, []);
  assertEquals(plan.config.extension.urlElicitation, true);
  const tokens = plan.config.servers.find((s) => s.name === "mcp/tokens");
  assertEquals(tokens?.tokenURLElicitation, { url: "https://vault.test/ui" });
  const withoutElicitation = await planReplay([
    extension("ext", "gw"),
    registration("tokens", "tokens", { prefix: "t_", tokenURLElicitation: {} }),
  ], staticResolver({}));
  assertEquals(withoutElicitation.config.extension.urlElicitation, undefined);
});
