/**
 * A deterministic, realistic manifest file for the validate benchmark: one Gateway and its
 * MCPGatewayExtension, then per MCP server an HTTPRoute and an MCPServerRegistration, a labelled
 * credential Secret for every third server, an MCPVirtualServer for every tenth, across eight team
 * namespaces. About one server in ten is broken in one of four ways the API server or the gateway
 * would reject.
 *
 * @module
 */

/** The generated file and what it holds. */
export interface GeneratedManifests {
  /** Multi-document YAML. */
  text: string;
  /** Number of documents. */
  documents: number;
  /** Documents per `apiVersion kind`. */
  kinds: Record<string, number>;
  /** The deliberately broken objects and why. */
  broken: Array<{ object: string; problem: string }>;
}

type Breakage = "prefix-pattern" | "route-missing" | "secret-unlabelled" | "v1alpha1";

function breakageOf(i: number): Breakage | undefined {
  switch (i % 40) {
    case 7:
      return "prefix-pattern";
    case 17:
      return "route-missing";
    case 27:
      return "secret-unlabelled";
    case 37:
      return "v1alpha1";
  }
  return undefined;
}

const HEADER = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: mcp-gateway
  namespace: gateway-system
spec:
  gatewayClassName: istio
  listeners:
    - name: mcp
      hostname: mcp.example.com
      port: 8080
      protocol: HTTP
      allowedRoutes:
        namespaces:
          from: All
---
apiVersion: mcp.kuadrant.io/v1
kind: MCPGatewayExtension
metadata:
  name: mcp-gateway-extension
  namespace: gateway-system
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: mcp-gateway
    namespace: gateway-system
    sectionName: mcp
  backendPingIntervalSeconds: 30
`;

function route(name: string, ns: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: ${name}
  namespace: ${ns}
  labels:
    app.kubernetes.io/part-of: mcp-servers
spec:
  parentRefs:
    - name: mcp-gateway
      namespace: gateway-system
  hostnames:
    - ${name}.mcp.local
  rules:
    - matches:
        - path:
            type: PathPrefix
            value: /mcp
      backendRefs:
        - name: ${name}
          port: 8080
`;
}

function secret(name: string, ns: string, labelled: boolean): string {
  return `apiVersion: v1
kind: Secret
metadata:
  name: ${name}
  namespace: ${ns}
${labelled ? `  labels:\n    mcp.kuadrant.io/secret: "true"\n` : ""}type: Opaque
stringData:
  token: Bearer tok-${name}
`;
}

function registration(i: number, ns: string, kind: Breakage | undefined, credential: boolean): string {
  const name = `srv-${i}`;
  if (kind === "v1alpha1") {
    return `apiVersion: mcp.kuadrant.io/v1alpha1
kind: MCPServer
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  toolPrefix: s${i}_
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: ${name}-route
`;
  }
  const prefix = kind === "prefix-pattern" ? `S${i}-` : `s${i}_`;
  const target = kind === "route-missing" ? `${name}-gone` : `${name}-route`;
  return `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata:
  name: ${name}
  namespace: ${ns}
  annotations:
    example.com/owner: team-${i % 8}
spec:
  prefix: ${prefix}
  path: /mcp
  category: [${["code", "search", "travel", "ops"][i % 4]}]
  tags: [bench, t${i % 5}]
  hint: Server number ${i} of the benchmark file.
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: ${target}
${credential ? `  credentialRef:\n    name: ${name}-token\n    key: token\n` : ""}`;
}

function virtualServer(i: number, ns: string): string {
  return `apiVersion: mcp.kuadrant.io/v1
kind: MCPVirtualServer
metadata:
  name: vs-${i}
  namespace: ${ns}
spec:
  description: Focused tool set ${i}
  tools:
    - s${i}_search
    - s${i}_get_issue
    - s${i}_list
`;
}

/** Generates exactly `documents` documents (at least 2). */
export function generateManifests(documents = 1000): GeneratedManifests {
  const docs: string[] = [HEADER.split("---\n")[0], HEADER.split("---\n")[1]];
  const broken: GeneratedManifests["broken"] = [];
  for (let i = 0;; i++) {
    const ns = `team-${i % 8}`;
    const kind = breakageOf(i);
    const credential = i % 3 === 0 || kind === "secret-unlabelled";
    const unit = [route(`srv-${i}-route`, ns), registration(i, ns, kind, credential)];
    if (credential) unit.push(secret(`srv-${i}-token`, ns, kind !== "secret-unlabelled"));
    if (i % 10 === 0) unit.push(virtualServer(i, ns));
    if (docs.length + unit.length > documents) {
      // Fill the rest with routes of servers not registered yet: valid, and common in real repos.
      for (let j = 0; docs.length < documents; j++) docs.push(route(`pending-${j}-route`, ns));
      break;
    }
    docs.push(...unit);
    if (kind) broken.push({ object: `${ns}/srv-${i}`, problem: kind });
  }
  const kinds: Record<string, number> = {};
  for (const d of docs) {
    const apiVersion = d.match(/^apiVersion: (.+)$/m)![1];
    const kind = d.match(/^kind: (.+)$/m)![1];
    kinds[`${apiVersion} ${kind}`] = (kinds[`${apiVersion} ${kind}`] ?? 0) + 1;
  }
  return { text: docs.join("---\n"), documents: docs.length, kinds, broken };
}

if (import.meta.main) {
  const generated = generateManifests(Number(Deno.args[0] ?? 1000));
  console.log(generated.text);
}
