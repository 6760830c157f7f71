import { assert, assertEquals, assertThrows } from "../test/helpers/assert.ts";
import { configFromBrokerFile, configFromObjects, normalizeConfig, serverEndpoint } from "./config.ts";
import { GatewayConfigError } from "./errors.ts";

const reg = (name: string, spec: Record<string, unknown> = {}, ns = "mcp-test") => ({
  apiVersion: "mcp.kuadrant.io/v1",
  kind: "MCPServerRegistration",
  metadata: { name, namespace: ns },
  spec: { targetRef: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", name }, ...spec },
});

Deno.test("configFromObjects maps registrations, virtual servers, extension and credentials", () => {
  const cfg = configFromObjects([
    reg("weather", { prefix: "weather_" }),
    reg("github", { prefix: "gh_", path: "/v1/mcp", state: "Disabled", credentialRef: { name: "gh-token" } }),
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "gh-token", namespace: "mcp-test" },
      data: { token: btoa("Bearer s3cret") },
    },
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPVirtualServer",
      metadata: { name: "vs", namespace: "mcp-test" },
      spec: { tools: ["weather_search"] },
    },
    {
      apiVersion: "mcp.kuadrant.io/v1",
      kind: "MCPGatewayExtension",
      metadata: { name: "ext", namespace: "mcp-system" },
      spec: { backendPingIntervalSeconds: 30, maxBodyBytes: 2048 },
    },
    { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "ignored" } },
  ], { "mcp-test/weather": "http://127.0.0.1:1", github: "http://127.0.0.1:2" });
  assertEquals(cfg.servers, [
    {
      name: "mcp-test/weather",
      url: "http://127.0.0.1:1",
      prefix: "weather_",
      enabled: true,
      credential: undefined,
      path: "/mcp",
    },
    {
      name: "mcp-test/github",
      url: "http://127.0.0.1:2",
      prefix: "gh_",
      enabled: false,
      credential: "Bearer s3cret",
      path: "/v1/mcp",
    },
  ]);
  assertEquals(cfg.virtualServers, [{ name: "mcp-test/vs", tools: ["weather_search"] }]);
  assertEquals(cfg.extension.backendPingIntervalSeconds, 30);
  assertEquals(cfg.extension.maxBodyBytes, 2048);
  assertEquals(cfg.extension.invalidToolPolicy, "FilterOut");
  assertEquals(serverEndpoint(cfg.servers[1]).href, "http://127.0.0.1:2/v1/mcp");
});

Deno.test("configFromObjects defaults and errors", () => {
  const cfg = configFromObjects([reg("plain")], { plain: "http://127.0.0.1:3" });
  assertEquals(cfg.servers[0].prefix, "");
  assertEquals(cfg.servers[0].path, "/mcp");
  assertEquals(cfg.extension.maxBodyBytes, 1048576);
  assertThrows(() => configFromObjects([reg("nourl")], {}), "has no upstream URL");
  assertThrows(
    () => configFromObjects([{ ...reg("old"), apiVersion: "mcp.kuadrant.io/v1alpha1" }], { old: "http://x" }),
    "v1alpha1",
  );
  assertThrows(
    () => configFromObjects([reg("c", { credentialRef: { name: "missing" } })], { c: "http://x" }),
    "missing Secret",
  );
  assertThrows(() => normalizeConfig({ servers: [{ name: "a", url: "x" }, { name: "a", url: "x" }] }));
  try {
    normalizeConfig({ servers: [{ name: "a", url: "http://x" }, { name: "a", url: "http://x" }] });
  } catch (e) {
    assert(e instanceof GatewayConfigError && e.code === "ERR_GATEWAY_CONFIG");
  }
});

Deno.test("configFromBrokerFile reads upstream's standalone broker config", () => {
  const cfg = configFromBrokerFile(`
servers:
  - name: test-server1
    url: http://localhost:9001/mcp
    hostname: server1.example.com
    enabled: true
    prefix: "s1_"
  - name: test-server2
    url: http://localhost:9002
    hostname: server2.example.com
    state: Disabled
    credential: Bearer abc
virtualServers:
  - name: ns/vs
    tools: [s1_a]
`);
  assertEquals(cfg.servers.map((s) => [s.name, s.prefix, s.enabled, s.path, s.credential]), [
    ["test-server1", "s1_", true, "/mcp", undefined],
    ["test-server2", "", false, "/mcp", "Bearer abc"],
  ]);
  assertEquals(serverEndpoint(cfg.servers[1]).href, "http://localhost:9002/mcp");
  assertEquals(cfg.virtualServers, [{ name: "ns/vs", tools: ["s1_a"] }]);
  assertThrows(() => configFromBrokerFile("servers: [{name: x}]"), "needs a name and a url");
  assertThrows(() => configFromBrokerFile(": : :\n  - ["), "not valid YAML");
});

Deno.test("discovery fields and userSpecificList come from registrations and the broker file", () => {
  const fromObjects = configFromObjects([
    reg("notes", {
      prefix: "u_",
      userSpecificList: "Enabled",
      category: ["docs"],
      hint: "Notes",
      tags: ["team"],
    }),
    reg("plain", { prefix: "p_", userSpecificList: "Disabled" }),
  ], { notes: "http://127.0.0.1:1", plain: "http://127.0.0.1:2" });
  const notes = fromObjects.servers.find((s) => s.name === "mcp-test/notes")!;
  assertEquals([notes.userSpecificList, notes.category, notes.hint, notes.tags], [true, ["docs"], "Notes", [
    "team",
  ]]);
  assertEquals(fromObjects.servers.find((s) => s.name === "mcp-test/plain")!.userSpecificList, undefined);
  assertEquals(fromObjects.extension.discoveryTools, true);
  assertEquals(fromObjects.extension.discoveryToolThreshold, 0);
  const fromFile = configFromBrokerFile(
    "servers:\n- name: notes\n  url: http://127.0.0.1:1/mcp\n  prefix: u_\n  userSpecificList: true\n  tags: [team]\n",
  );
  assertEquals([fromFile.servers[0].userSpecificList, fromFile.servers[0].tags], [true, ["team"]]);
  assertThrows(
    () => normalizeConfig({ extension: { discoveryToolThreshold: -1 } }),
    GatewayConfigError,
    "discoveryToolThreshold",
  );
});

Deno.test("configFromObjects refuses a credential that is not a header value or not base64, naming Secret and key only", () => {
  const secret = (fields: Record<string, unknown>) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "gh-token", namespace: "mcp-test" },
    ...fields,
  });
  const load = (fields: Record<string, unknown>) => () =>
    configFromObjects([reg("github", { credentialRef: { name: "gh-token", key: "pat" } }), secret(fields)], {
      github: "http://127.0.0.1:9/mcp",
    });
  for (
    const [fields, why] of [
      [{ stringData: { pat: "Bearer s3cret\r\nX-Evil: 1" } }, "it contains a carriage return"],
      [{ data: { pat: btoa("Bearer s3cret\nX-Evil: 1") } }, "it contains a line feed"],
      [{ stringData: { pat: "Bearer s3cret\u2603" } }, "it contains a character outside Latin-1"],
      [{ data: { pat: "Bearer s3cret!" } }, "is not valid base64"],
    ] as const
  ) {
    const error = assertThrows(load(fields), GatewayConfigError);
    assert(error.message.startsWith('Secret mcp-test/gh-token key "pat" (credentialRef of'), error.message);
    assert(error.message.includes(why), error.message);
    assert(!error.message.includes("s3cret"), error.message);
  }
  // Bytes 0x80..0xFF are header bytes (a UTF-8 token in data is sent as its bytes, as the cluster does).
  const utf8 = String.fromCharCode(...new TextEncoder().encode("Bearer caf\u00e9"));
  assertEquals(load({ data: { pat: btoa(utf8) } })().servers[0].credential, utf8);
});

Deno.test("configFromObjects reads the trustedHeadersKey Secret's key from the extension's namespace", () => {
  const pem = "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n";
  const ext = (secretName: string) => ({
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    metadata: { name: "ext", namespace: "gw" },
    spec: { targetRef: { name: "g", sectionName: "mcp" }, trustedHeadersKey: { secretName } },
  });
  const secret = (namespace: string, data: Record<string, string>) => ({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "trusted", namespace },
    data,
  });
  const read = (objects: unknown[]) => configFromObjects(objects, {}).extension.trustedHeadersPublicKey;
  assertEquals(read([ext("trusted"), secret("gw", { key: btoa(pem) })]), pem);
  // Another namespace's Secret, another data key, or no Secret: no key (the broker's empty one).
  assertEquals(read([ext("trusted"), secret("other", { key: btoa(pem) })]), undefined);
  assertEquals(read([ext("trusted"), secret("gw", { "tls.crt": btoa(pem) })]), undefined);
  assertEquals(read([ext("trusted")]), undefined);
  assertEquals(configFromObjects([ext("trusted")], {}).extension.enforceCapabilityFilter, false);
});
