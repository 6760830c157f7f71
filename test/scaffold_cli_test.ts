/**
 * The scaffolding verbs through the real CLI: what they print validates clean, secrets are never
 * echoed, and bad input is a usage error naming the flag.
 */

import { parseAllDocuments } from "yaml";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";

async function validates(yaml: string, extra: string[] = []): Promise<string> {
  const result = await runCli(["validate", "-f", "-", ...extra], { stdin: yaml });
  assertEquals(
    result.code,
    0,
    `validate failed:\n${result.stdout}\n${result.stderr}\n--- input ---\n${yaml}`,
  );
  return result.stdout;
}

Deno.test("register --service scaffolds an HTTPRoute and a registration that validate clean", async () => {
  const result = await runCli([
    "register",
    "weather-mcp",
    "--service",
    "weather:8080",
    "--hostname",
    "weather.mcp.local",
    "-n",
    "mcp-servers",
    "--category",
    "weather",
    "--tag",
    "public,forecast",
    "--hint",
    "Forecasts",
    "--dry-run=client",
    "-o",
    "yaml",
  ]);
  assertEquals(result.code, 0, result.stderr);
  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS());
  assertEquals(objects.map((o) => o.kind), ["HTTPRoute", "MCPServerRegistration"]);
  assertEquals(objects[1].spec.prefix, "weather_");
  assertEquals(objects[1].spec.tags, ["public", "forecast"]);
  await validates(result.stdout);
});

Deno.test("register --route with a credential literal creates a labelled Secret and never prints the value", async () => {
  const result = await runCli([
    "register",
    "search",
    "--route",
    "search-route",
    "--credential",
    "search-token:auth",
    "--credential-from-literal",
    "Bearer super-secret-value",
    "--dry-run=client",
    "-o",
    "json",
  ]);
  assertEquals(result.code, 0, result.stderr);
  assert(!result.stdout.includes("super-secret-value"), "the secret value was printed");
  const list = JSON.parse(result.stdout);
  const secret = list.items.find((o: { kind: string }) => o.kind === "Secret");
  assertEquals(secret.metadata.labels["mcp.kuadrant.io/secret"], "true");
  assertEquals(secret.stringData, { auth: "<redacted>" });
});

Deno.test("register default output names what would be created, as kubectl does", async () => {
  const result = await runCli(["register", "github", "--route", "github-route", "--dry-run=client"]);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(result.stdout, "mcpserverregistration.mcp.kuadrant.io/github created (dry run)\n");
});

Deno.test("register warns when the prefix leaves too little room for tool names", async () => {
  const result = await runCli([
    "register",
    "x",
    "--route",
    "r",
    "--prefix",
    "enterprise_knowledge_base_connector_",
    "--max-tool-name",
    "48",
    "--dry-run=client",
  ]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stderr, "tool-name.budget");
});

Deno.test("register rejects bad flag values with usage errors that name the flag", async () => {
  const cases: [string[], string][] = [
    [["register", "x", "--route", "r", "--prefix", "Bad-Prefix", "--dry-run=client"], "--prefix"],
    [["register", "x", "--service", "svc", "--hostname", "h", "--dry-run=client"], "--service"],
    [["register", "x", "--service", "svc:80", "--dry-run=client"], "--hostname"],
    [["register", "x", "--dry-run=client"], "--route or --service"],
    [["register", "--route", "r"], "exactly one NAME"],
    [["register", "x", "--route", "r", "--dry-run=maybe"], "--dry-run"],
  ];
  for (const [args, text] of cases) {
    const result = await runCli(args);
    assertEquals(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, text);
  }
});

Deno.test("virtual-server create validates clean and refuses an empty tool list", async () => {
  const ok = await runCli([
    "virtual-server",
    "create",
    "triage",
    "--tool",
    "github_search,github_get_issue",
    "--description",
    "Issue triage",
    "-n",
    "agents",
    "--dry-run=client",
    "-o",
    "yaml",
  ]);
  assertEquals(ok.code, 0, ok.stderr);
  const object = parseAllDocuments(ok.stdout)[0].toJS();
  assertEquals(object.spec.tools, ["github_search", "github_get_issue"]);
  await validates(ok.stdout);
  const empty = await runCli(["virtual-server", "create", "triage", "--dry-run=client"]);
  assertEquals(empty.code, 2);
  assertStringIncludes(empty.stderr, "at least one --tool");
});

Deno.test("gateway init with an issuer scaffolds the extension and an AuthPolicy that validate clean", async () => {
  const result = await runCli([
    "gateway",
    "init",
    "--gateway",
    "gateway-system/mcp-gateway",
    "--listener",
    "mcp",
    "--public-host",
    "mcp.example.com",
    "--auth-issuer",
    "https://idp.example.com/realms/mcp",
    "--dry-run=client",
    "-o",
    "yaml",
  ]);
  assertEquals(result.code, 0, result.stderr);
  const objects = parseAllDocuments(result.stdout).map((doc) => doc.toJS());
  assertEquals(objects.map((o) => o.kind), ["MCPGatewayExtension", "AuthPolicy"]);
  assertEquals(objects[0].spec.oauthProtectedResource.authorizationServers, [
    "https://idp.example.com/realms/mcp",
  ]);
  await validates(result.stdout);
  // With the Gateway it extends, the output has no finding at all, not even a warning.
  const gateway = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: mcp-gateway, namespace: gateway-system}
spec:
  gatewayClassName: istio
  listeners: [{name: mcp, port: 8080, protocol: HTTP}]
---
`;
  assertEquals(await validates(gateway + result.stdout, ["--strict"]), "3 objects valid\n");
  const missing = await runCli(["gateway", "init", "--listener", "mcp"]);
  assertEquals(missing.code, 2);
  assertStringIncludes(missing.stderr, "--gateway");
});

Deno.test("the seed article's manifests fail with the v1alpha1/toolPrefix fix named, and migrate output validates", async () => {
  const result = await runCli(["validate", "-f", "test/corpus/seed/mcp-server-registration.yaml"]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stdout, "apiversion.deprecated");
  assertStringIncludes(result.stdout, "field.renamed");
  assertStringIncludes(result.stdout, "kubectl mcp migrate -f");
  const migrated = await runCli(["migrate", "-f", "test/corpus/seed/mcp-server-registration.yaml"]);
  assertEquals(migrated.code, 0, migrated.stderr);
  assertStringIncludes(migrated.stdout, "apiVersion: mcp.kuadrant.io/v1\n");
  assertStringIncludes(migrated.stdout, "prefix:");
  await validates(migrated.stdout);
});
