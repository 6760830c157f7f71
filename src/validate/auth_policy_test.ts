import { stringify } from "yaml";
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { parseManifests } from "../manifest/mod.ts";
import { scaffoldGateway } from "../scaffold/gateway.ts";
import { celHeaderReads, headerProblem, selectorHeaderRead } from "./policy_headers.ts";
import { pemKeyFacts } from "./signing_keys.ts";
import { FINDING_CODES } from "./types.ts";
import { validateManifests } from "./validate.ts";

const GATEWAY = {
  apiVersion: "gateway.networking.k8s.io/v1",
  kind: "Gateway",
  metadata: { name: "mcp-gateway", namespace: "gateway-system" },
  spec: {
    gatewayClassName: "istio",
    listeners: [{ name: "mcp", hostname: "mcp.example.com", port: 8080, protocol: "HTTP" }],
  },
};

function validateObjects(objects: unknown[], options: Parameters<typeof validateManifests>[1] = {}) {
  const text = objects.map((o) => `---\n${stringify(o)}`).join("");
  return validateManifests(parseManifests(text, "test.yaml"), options);
}

Deno.test("gateway init --auth-issuer output, with its Gateway, validates with no findings at all", () => {
  const objects = scaffoldGateway({
    gateway: { name: "mcp-gateway", namespace: "gateway-system" },
    listener: "mcp",
    publicHost: "mcp.example.com",
    authIssuer: "https://idp.example.com/realms/mcp",
  });
  assertEquals(objects.map((o) => o.kind), ["MCPGatewayExtension", "AuthPolicy"]);
  const report = validateObjects([GATEWAY, ...objects], { strict: true });
  assertEquals(report.findings, []);
  assertEquals(report.objects, 3);
  assert(report.ok);
});

Deno.test("the AuthPolicy checks reach the scaffolded policy: a broken predicate in it is reported", () => {
  const [extension, policy] = scaffoldGateway({
    gateway: { name: "mcp-gateway", namespace: "gateway-system" },
    listener: "mcp",
    publicHost: "mcp.example.com",
    authIssuer: "https://idp.example.com/realms/mcp",
  });
  (policy.spec as { when: { predicate: string }[] }).when[0].predicate =
    "!request.path.contains('/.well-known') && request.headers['x-mcp-tool'] != ''";
  const report = validateObjects([GATEWAY, extension, policy]);
  assertEquals(report.findings.map((f) => [f.code, f.field, f.kind, f.name]), [
    ["policy.header", "spec.when[0].predicate", "AuthPolicy", "mcp-gateway-mcp-auth"],
  ]);
  assertEquals(
    report.findings[0].message,
    `CEL predicate "spec.when[0].predicate" reads request header "x-mcp-tool" (line 1, column 59), but the ` +
      `gateway never sets a header "x-mcp-tool"; did you mean "x-mcp-toolname"?`,
  );
});

Deno.test("header reads are found in index, in, and macros over the headers, with their offsets", () => {
  const source = "request.headers['x-mcp-method'] == 'tools/call' &&\n" +
    "  'x-mcp-toolname' in request.headers &&\n" +
    "  context.request.http.headers.exists(h, h == 'x-mcp-servername') &&\n" +
    "  auth.identity.roles.exists(r, r == 'x-mcp-not-a-header')";
  const reads = celHeaderReads(source)!;
  assertEquals(reads.map((r) => r.name), ["x-mcp-method", "x-mcp-toolname", "x-mcp-servername"]);
  assertEquals(reads.map((r) => source.slice(r.offset, r.offset + r.name.length + 2)), [
    "'x-mcp-method'",
    "'x-mcp-toolname'",
    "'x-mcp-servername'",
  ]);
  assertEquals(celHeaderReads("request.headers[") === undefined, true);
});

Deno.test("selectors read headers under request.headers and context.request.http.headers only", () => {
  assertEquals(selectorHeaderRead("request.headers.x-mcp-tool"), { name: "x-mcp-tool", offset: 16 });
  assertEquals(
    selectorHeaderRead("context.request.http.headers.x-mcp-toolname|@case:lower")?.name,
    "x-mcp-toolname",
  );
  assertEquals(selectorHeaderRead("auth.identity.sub"), undefined);
  assertEquals(selectorHeaderRead("request.headers.@keys"), undefined);
});

Deno.test("header names: the gateway's pass, misspellings and upper case get the right name", () => {
  for (
    const name of ["x-mcp-toolname", "x-mcp-servername", "x-mcp-method", "authorization", "mcp-session-id"]
  ) {
    assertEquals(headerProblem(name), undefined, name);
  }
  const suggest = (name: string) => headerProblem(name)?.suggestion;
  assertEquals(suggest("x-mcp-tool"), "x-mcp-toolname");
  assertEquals(suggest("x-mcp-server"), "x-mcp-servername");
  assertEquals(suggest("x-mcp-prompt"), "x-mcp-promptname");
  assertEquals(suggest("x-mcp-tool-name"), "x-mcp-toolname");
  assertEquals(suggest("x-mcp-virtual-server"), "x-mcp-virtualserver");
  assertEquals(suggest("x-mcp-methd"), "x-mcp-method");
  assertEquals(suggest("X-MCP-Tool"), "x-mcp-toolname");
  assertEquals(suggest("Authorization"), "authorization");
});

Deno.test("PEM key facts pair a private key with its public key and never hold key material", async () => {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const pem = (label: string, der: ArrayBuffer) =>
    `-----BEGIN ${label}-----\n${
      btoa(String.fromCharCode(...new Uint8Array(der)))
    }\n-----END ${label}-----\n`;
  const privatePem = pem("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey));
  const publicPem = pem("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey));
  const privateFacts = pemKeyFacts(privatePem)!;
  const publicFacts = pemKeyFacts(publicPem)!;
  assertEquals(privateFacts.type, "private");
  assertEquals(privateFacts.label, "PRIVATE KEY");
  assertEquals(publicFacts.curve, "prime256v1");
  assertEquals(privateFacts.publicKeySha256, publicFacts.publicKeySha256);
  const body = (text: string) => text.split("\n")[1];
  const facts = JSON.stringify([privateFacts, publicFacts]);
  assert(!facts.includes(body(privatePem).slice(20, 60)) && !facts.includes(body(publicPem).slice(20, 60)));
  assertEquals(pemKeyFacts("not a key"), undefined);
  assertEquals(
    pemKeyFacts("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n")?.problem !==
      undefined,
    true,
  );
});

Deno.test("every AuthPolicy finding code is explained", () => {
  for (const code of ["policy.cel", "policy.header", "policy.wristband", "policy.wristband-key"]) {
    assert(code in FINDING_CODES, code);
  }
});
