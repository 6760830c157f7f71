/**
 * The upstream MCP gateway guides' AuthPolicies (v0.9.0 docs/guides, as written) and the requests the
 * auth tests send through them.
 *
 * @module
 */
import { parse } from "yaml";
import { buildAuthorizationJson } from "../../sim/auth/authorization_json.ts";
import type { AuthorizationJson } from "../../sim/auth/types.ts";

/**
 * The seed article's AuthPolicy (its YAML lost its indentation in the article; here indented as
 * upstream's authentication guide writes it, with the article's line break inside the header value).
 */
export const SEED_ARTICLE_POLICY = `
apiVersion: kuadrant.io/v1
kind: AuthPolicy
metadata:
  name: mcp-auth
  namespace: gateway-system
spec:
  # Attaches to the gateway's MCP listener
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: mcp-gateway
    sectionName: mcp
  defaults:
    # Skip auth for OAuth discovery endpoints
    when:
      - predicate: "!request.path.contains('/.well-known')"
    rules:
      authentication:
        # Validate JWTs issued by the Keycloak MCP realm
        "keycloak":
          jwt:
            issuerUrl: http://keycloak.example.com/realms/mcp
      response:
        # Return OAuth-compliant 401 with resource metadata for auto-discovery
        unauthenticated:
          code: 401
          headers:
            "WWW-Authenticate":
              value: Bearer
                resource_metadata=http://mcp.example.com/.well-known/oauth-protected-resource/mcp
          body:
            value: |
              {
                "error": "Unauthorized",
                "message": "Authentication required."
              }
`;

/** docs/guides/authorization.md of the MCP gateway (v0.9.0), as written. */
export const AUTHORIZATION_GUIDE = `
apiVersion: kuadrant.io/v1
kind: AuthPolicy
metadata:
  name: mcp-tool-auth-policy
  namespace: gateway-system
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: mcp-gateway
    sectionName: mcps  # Targets the MCP server listener
  rules:
    authentication:
      'sso-server':
        jwt:
          issuerUrl: https://keycloak.127-0-0-1.sslip.io:8002/realms/mcp
    authorization:
      'tool-access-check':
        when:
          - predicate: "request.headers.exists(h, h == 'x-mcp-toolname')"
        patternMatching:
          patterns:
            - predicate: |
                ('tool:' + request.headers['x-mcp-toolname']) in (has(auth.identity.resource_access) && auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])
      'prompt-access-check':
        when:
          - predicate: "request.headers.exists(h, h == 'x-mcp-promptname')"
        patternMatching:
          patterns:
            - predicate: |
                ('prompt:' + request.headers['x-mcp-promptname']) in (has(auth.identity.resource_access) && auth.identity.resource_access.exists(p, p == request.headers['x-mcp-servername']) ? auth.identity.resource_access[request.headers['x-mcp-servername']].roles : [])
    response:
      unauthenticated:
        headers:
          'WWW-Authenticate':
            value: Bearer resource_metadata=http://mcp.127-0-0-1.sslip.io:8001/.well-known/oauth-protected-resource/mcp
        body:
          value: |
            {
              "error": "Unauthorized",
              "message": "MCP Access denied: Authentication required."
            }
      unauthorized:
        body:
          value: |
            {
              "error": "Forbidden",
              "message": "MCP Access denied: Insufficient permissions."
            }
`;

/** docs/guides/user-based-tool-filter.md of the MCP gateway (v0.9.0), as written. */
export const TOOL_FILTER_GUIDE = `
apiVersion: kuadrant.io/v1
kind: AuthPolicy
metadata:
  name: mcp-auth-policy
  namespace: gateway-system
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: mcp-gateway
    sectionName: mcp
  when:
    - predicate: "!request.path.contains('/.well-known')"
  rules:
    authentication:
      keycloak:
        jwt:
          issuerUrl: https://keycloak.example.com/realms/mcp
    authorization:
      allow-mcp-method:
        patternMatching:
          patterns:
            - predicate: |
                !request.headers.exists(h, h == 'x-mcp-method') || (request.headers['x-mcp-method'] in ["tools/list","initialize","notifications/initialized"])
      authorized-capabilities:
        opa:
          rego: |
            allow = true
            capabilities = {
              "tools": { server: tools |
                server := object.keys(input.auth.identity.resource_access)[_]
                tools := [substring(r, count("tool:"), -1) |
                  r := input.auth.identity.resource_access[server].roles[_]
                  startswith(r, "tool:")
                ]
              }
            }
          allValues: true
    response:
      success:
        headers:
          x-mcp-authorized:
            wristband:
              issuer: authorino
              customClaims:
                allowed-capabilities:
                  selector: auth.authorization.authorized-capabilities.capabilities.@tostr
              tokenDuration: 300
              signingKeyRefs:
                - name: trusted-headers-private-key
                  algorithm: ES256
      unauthenticated:
        code: 401
        headers:
          WWW-Authenticate:
            value: Bearer resource_metadata=https://mcp.example.com/.well-known/oauth-protected-resource/mcp
        body:
          value: |
            {
              "error": "Unauthorized",
              "message": "Access denied: Authentication required."
            }
      unauthorized:
        code: 403
        body:
          value: |
            {
              "error": "Forbidden",
              "message": "Access denied."
            }
`;

/** The `spec.rules` of an AuthPolicy written as YAML. */
export function rulesOf(yaml: string): Record<string, Record<string, unknown>> {
  return (parse(yaml) as { spec: { rules: Record<string, Record<string, unknown>> } }).spec.rules;
}

/** The authorization JSON of a request to the gateway with `headers`, once `identity` is resolved. */
export function requestJson(
  options: { headers?: Record<string, string>; identity?: unknown; method?: string; path?: string } = {},
): AuthorizationJson {
  const url = `http://mcp.127-0-0-1.sslip.io:8001${options.path ?? "/mcp"}`;
  const headers = new Headers(options.headers);
  const json = buildAuthorizationJson({
    request: new Request(url, { method: options.method ?? "POST", headers }),
    headers,
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8001 },
  });
  if (options.identity !== undefined) json.auth.identity = options.identity;
  return json;
}

/** The guide's `mcp` user of the `accounting` group: its `resource_access` roles. */
export const ACCOUNTING = {
  sub: "f5c4a0e6-mcp",
  preferred_username: "mcp",
  resource_access: {
    "mcp-ns/arithmetic-mcp-server": {
      roles: ["tool:add", "tool:sum", "tool:multiply", "tool:divide", "prompt:math_tutor"],
    },
    "mcp-ns/geometry-mcp-server": {
      roles: ["tool:area", "tool:distance", "tool:volume", "prompt:calculate_area"],
    },
  },
};
