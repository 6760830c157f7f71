/**
 * Scaffolding for `kubectl mcp gateway init` and `kubectl mcp virtual-server create`.
 *
 * @module
 */

import { UsageError } from "../errors.ts";
import type { KubeObject } from "./register.ts";
import type { MCPGatewayExtensionSpec, MCPVirtualServerSpec } from "../model/mod.ts";

/** What `gateway init` was asked to create. */
export interface GatewayInitOptions {
  /** The extension's name (default `mcp-gateway-extension`). */
  name?: string;
  /** Namespace of the extension and policy; defaults to the Gateway's. */
  namespace?: string;
  /** The Gateway to extend. */
  gateway: { name: string; namespace: string };
  /** The Gateway listener that serves MCP. */
  listener: string;
  /** Host clients reach the broker on, e.g. `mcp.example.com` (or a full https:// URL). */
  publicHost?: string;
  /** OIDC issuer: adds JWT authentication (AuthPolicy) and protected-resource metadata. */
  authIssuer?: string;
}

/** Public URL of the MCP endpoint for a host (https unless a scheme is given). */
export function publicMcpUrl(publicHost: string): URL {
  const base = /^https?:\/\//.test(publicHost) ? publicHost : `https://${publicHost}`;
  try {
    return new URL("/mcp", base);
  } catch {
    throw new UsageError(
      `invalid value "${publicHost}" for --public-host: expected a host name such as mcp.example.com`,
    );
  }
}

/**
 * Builds an MCPGatewayExtension and, with an issuer, an AuthPolicy like the Kuadrant guides': JWT
 * authentication on the MCP listener except the OAuth discovery paths, and a 401 whose
 * `WWW-Authenticate` points clients at the protected-resource metadata.
 */
export function scaffoldGateway(options: GatewayInitOptions): KubeObject[] {
  const namespace = options.namespace ?? options.gateway.namespace;
  if (options.authIssuer && !options.publicHost) {
    throw new UsageError(
      "--auth-issuer needs --public-host: clients find the issuer through metadata served there",
    );
  }
  if (options.authIssuer && !/^https?:\/\/[^,]+$/.test(options.authIssuer)) {
    throw new UsageError(`invalid value "${options.authIssuer}" for --auth-issuer: expected an http(s) URL`);
  }
  const spec: MCPGatewayExtensionSpec = {
    targetRef: {
      group: "gateway.networking.k8s.io",
      kind: "Gateway",
      name: options.gateway.name,
      namespace: options.gateway.namespace,
      sectionName: options.listener,
    },
  };
  const mcpUrl = options.publicHost ? publicMcpUrl(options.publicHost) : undefined;
  if (mcpUrl) spec.publicHost = mcpUrl.host;
  if (options.authIssuer && mcpUrl) {
    spec.oauthProtectedResource = { authorizationServers: [options.authIssuer], resource: mcpUrl.href };
  }
  const objects: KubeObject[] = [{
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPGatewayExtension",
    metadata: { name: options.name ?? "mcp-gateway-extension", namespace },
    spec,
  }];
  if (options.authIssuer && mcpUrl) {
    const metadataUrl = `${mcpUrl.origin}/.well-known/oauth-protected-resource/mcp`;
    objects.push({
      apiVersion: "kuadrant.io/v1",
      kind: "AuthPolicy",
      // The policy attaches to the Gateway, so it lives in the Gateway's namespace.
      metadata: { name: `${options.gateway.name}-mcp-auth`, namespace: options.gateway.namespace },
      spec: {
        targetRef: {
          group: "gateway.networking.k8s.io",
          kind: "Gateway",
          name: options.gateway.name,
          sectionName: options.listener,
        },
        when: [{ predicate: "!request.path.contains('/.well-known')" }],
        rules: {
          authentication: { "oidc": { jwt: { issuerUrl: options.authIssuer } } },
          response: {
            unauthenticated: {
              code: 401,
              headers: { "WWW-Authenticate": { value: `Bearer resource_metadata=${metadataUrl}` } },
              body: { value: '{"error": "Unauthorized", "message": "Authentication required."}\n' },
            },
          },
        },
      },
    });
  }
  return objects;
}

/** What `virtual-server create` was asked to create. */
export interface VirtualServerOptions {
  /** The virtual server's name. */
  name: string;
  /** Its namespace. */
  namespace: string;
  /** Prefixed tool names it exposes (at least one). */
  tools: string[];
  /** Prefixed prompt names it exposes. */
  prompts?: string[];
  /** What it is for. */
  description?: string;
}

/** Builds an MCPVirtualServer. */
export function scaffoldVirtualServer(options: VirtualServerOptions): KubeObject {
  if (options.tools.length === 0) {
    throw new UsageError("at least one --tool is required: a virtual server lists the tools it exposes");
  }
  const spec: MCPVirtualServerSpec = {
    ...(options.description !== undefined ? { description: options.description } : {}),
    tools: [...new Set(options.tools)],
  };
  if (options.prompts?.length) spec.prompts = [...new Set(options.prompts)];
  return {
    apiVersion: "mcp.kuadrant.io/v1",
    kind: "MCPVirtualServer",
    metadata: { name: options.name, namespace: options.namespace },
    spec,
  };
}
