import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { parseManifests } from "../manifest/load.ts";
import { validateManifests } from "./validate.ts";

const codes = (text: string, options = {}) =>
  validateManifests(parseManifests(text, "t.yaml"), options).findings.map((f) => f.code);

const REG = `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata: {name: a, namespace: mcp}
spec:
  targetRef: {name: r}
`;

Deno.test("every schema error is reported at once", () => {
  const found = codes(REG + "  prefix: Bad\n  hint: ok\n  foo: 1\n  tags: ['']\n");
  assertEquals(found.filter((c) => c.startsWith("schema")).sort(), [
    "schema.min-length",
    "schema.pattern",
    "schema.unknown-field",
  ]);
});

Deno.test("CEL runs on the defaulted object and is skipped on blocking errors", () => {
  assert(codes(REG + "  userSpecificList: Enabled\n").includes("cel"));
  assert(!codes(REG + "  userSpecificList: Enabled\n  prefix: a_\n").includes("cel"));
  const blocked = codes(REG + "  userSpecificList: Enabled\n  state: Paused\n");
  assert(blocked.includes("schema.enum") && !blocked.includes("cel"));
});

Deno.test("transition rules run only against an old object with the same identity", () => {
  const old = parseManifests(REG + "  prefix: a_\n", "old.yaml");
  assert(codes(REG + "  prefix: b_\n", { old }).includes("cel.transition"));
  assert(!codes(REG + "  prefix: a_\n", { old }).includes("cel.transition"));
  assert(!codes(REG + "  prefix: b_\n").includes("cel.transition"));
  const live = { objects: old.map((d) => d.object) };
  assert(codes(REG + "  prefix: b_\n", { live }).includes("cel.transition"));
});

Deno.test("live objects satisfy references; strict fails on warnings", () => {
  const docs = parseManifests(REG + "  prefix: a_\n", "t.yaml");
  const loose = validateManifests(docs);
  assertEquals(loose.findings.map((f) => f.code), ["ref.route-missing"]);
  assert(loose.ok);
  assert(!validateManifests(docs, { strict: true }).ok);
  const route = {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: "r", namespace: "mcp" },
    spec: { hostnames: ["h"], rules: [{ backendRefs: [{ name: "s" }] }] },
  };
  assertEquals(validateManifests(docs, { live: { objects: [route] } }).findings, []);
});

Deno.test("findings name the object, field and position", () => {
  const [finding] = validateManifests(parseManifests(REG + "  prefix: Bad\n", "t.yaml")).findings
    .filter((f) => f.code === "schema.pattern");
  assertEquals(
    { ...finding, message: undefined },
    {
      severity: "error",
      code: "schema.pattern",
      message: undefined,
      source: "t.yaml",
      line: 6,
      column: 11,
      kind: "MCPServerRegistration",
      namespace: "mcp",
      name: "a",
      field: "spec.prefix",
      apiserver: true,
    },
  );
});

Deno.test("tags warn that broker v0.9.0 hangs, naming the registration and what hangs", () => {
  // Broker v0.9.0 observed (issue #11 observation file, section 2 row 24): with any registration
  // carrying tags, tools/list, resources/list, every tools/call, /status and /readyz hang.
  const [finding] = validateManifests(parseManifests(REG + "  tags: [forecast]\n", "t.yaml")).findings
    .filter((f) => f.code === "broker.tags-hang");
  assertEquals([finding.severity, finding.field, finding.line, finding.apiserver], [
    "warning",
    "spec.tags",
    6,
    undefined,
  ]);
  assertEquals(
    finding.message,
    'MCPServerRegistration mcp/a sets "spec.tags", which makes the cluster\'s broker v0.9.0 hang: ' +
      "tools/list, resources/list, every tools/call, /status and /readyz never answer, and it ignores " +
      "SIGTERM (any registration with tags does this to the whole gateway)",
  );
  assert(finding.hint?.includes("spec.tags"));
  assert(!codes(REG + "  tags: []\n").includes("broker.tags-hang"), "no tags, no hang");
});

Deno.test("a route's virtual-server header naming no MCPVirtualServer warns with --live facts", () => {
  // Broker v0.9.0 observed (issue #11 observation file, section 2 row 17): such a header gets the
  // unfiltered list, and the client is told nothing.
  const route = (value: string) =>
    `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: triage, namespace: mcp}
spec:
  hostnames: [triage.mcp.local]
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier:
            set:
              - name: X-Mcp-Virtualserver
                value: ${value}
      backendRefs: [{name: mcp-gateway, port: 8080}]
`;
  const vs = {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPVirtualServer",
    metadata: { name: "triage", namespace: "mcp" },
    spec: { tools: ["a"] },
  };
  const listed = [{ group: "mcp.kuadrant.io", kind: "MCPVirtualServer" }];
  const findings = (value: string, live?: { objects: unknown[]; listed?: typeof listed }) =>
    validateManifests(parseManifests(route(value), "t.yaml"), { live }).findings
      .filter((f) => f.code === "ref.virtualserver-missing");
  // Offline the cluster may hold it.
  assertEquals(findings("mcp/trige"), []);
  // Read completely: present, or missing.
  assertEquals(findings("mcp/triage", { objects: [vs], listed }), []);
  const [missing] = findings("mcp/trige", { objects: [vs], listed });
  assertEquals([missing.severity, missing.line, missing.field], [
    "warning",
    12,
    "spec.rules[0].filters[0].requestHeaderModifier.set[0].value",
  ]);
  assertEquals(
    missing.message,
    "Header X-Mcp-Virtualserver: mcp/trige names no MCPVirtualServer (neither among the files nor in the " +
      "cluster); the gateway then serves the unfiltered list, every tool, to these requests",
  );
  // Not namespace/name: no virtual server can have it, offline too.
  assertEquals(findings("triage").map((f) => f.message.split(";")[0]), [
    "Header X-Mcp-Virtualserver: triage is not NAMESPACE/NAME, so it names no MCPVirtualServer",
  ]);
});

Deno.test("conflict findings say the cluster's winner is whichever server answers first", () => {
  // Broker v0.9.0 observed (issue #11 observation file, section 2 row 20): the server whose list
  // arrives first keeps its tools, the other loses all of them, its prompts stay; the winner varied.
  const two = ["a", "b"].map((name) =>
    `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata: {name: ${name}, namespace: mcp}
spec:
  prefix: same_
  targetRef: {name: r}
`
  ).join("---\n");
  const race = "in the cluster the winner depends on which server answers first: broker v0.9.0 keeps the " +
    "tools of the server whose list arrives first and withholds all tools of the other (its prompts stay)";
  const report = validateManifests(parseManifests(two, "t.yaml"), {
    toolNames: { "mcp/a": ["search"], "mcp/b": ["search"] },
  });
  const message = (code: string) => report.findings.find((f) => f.code === code)?.message;
  assertEquals(
    message("prefix.duplicate"),
    `Field "spec.prefix" value "same_" is already used by MCPServerRegistration mcp/a on the same gateway; ` +
      `where their tool names meet, ${race}`,
  );
  assertEquals(
    message("tool.duplicate"),
    `Tool "same_search" is also exposed by MCPServerRegistration mcp/a on the same gateway; ${race}; give ` +
      "one of them a different prefix",
  );
});
