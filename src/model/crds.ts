/**
 * The three custom resources of the Kuadrant MCP gateway, described once. `crds/` is rendered from
 * these values (`deno task crds`), the zod model is derived from them and the validator walks them.
 *
 * Facts (fields, defaults, enums, patterns, limits, CEL rules, printer columns) follow upstream
 * github.com/Kuadrant/mcp-gateway `config/crd`; `crds_test.ts` compares them to a checked-in list.
 *
 * @module
 */

import { arr, enumOf, type Infer, int, obj, type ObjectSchema, type Schema, str } from "./schema.ts";

/** API group of every MCP gateway resource. */
export const GROUP = "mcp.kuadrant.io";
/** The served and storage version. */
export const VERSION = "v1";
/** `group/version` of current manifests. */
export const API_VERSION = `${GROUP}/${VERSION}`;
/** The version the seed article and pre-0.7 manifests use; no longer served. */
export const DEPRECATED_VERSION = "v1alpha1";
/** `group/version` of article-era manifests. */
export const DEPRECATED_API_VERSION = `${GROUP}/${DEPRECATED_VERSION}`;

/** Kind of the server registration resource. */
export const KIND_SERVER_REGISTRATION = "MCPServerRegistration";
/** Kind of the gateway extension resource. */
export const KIND_GATEWAY_EXTENSION = "MCPGatewayExtension";
/** Kind of the virtual server resource. */
export const KIND_VIRTUAL_SERVER = "MCPVirtualServer";

/** Plural (resource) name of MCPServerRegistration. */
export const PLURAL_SERVER_REGISTRATION = "mcpserverregistrations";
/** Plural (resource) name of MCPGatewayExtension. */
export const PLURAL_GATEWAY_EXTENSION = "mcpgatewayextensions";
/** Plural (resource) name of MCPVirtualServer. */
export const PLURAL_VIRTUAL_SERVER = "mcpvirtualservers";

/** Label a Secret needs before the controller reads it. */
export const SECRET_LABEL = "mcp.kuadrant.io/secret";
/** Value of {@linkcode SECRET_LABEL}. */
export const SECRET_LABEL_VALUE = "true";
/** Group of Gateway API resources. */
export const GATEWAY_API_GROUP = "gateway.networking.k8s.io";
/** Longest tool name the MCP specification allows. */
export const TOOL_NAME_MAX = 128;
/** Tool name length many clients cut at. */
export const TOOL_NAME_CLIENT_LIMIT = 64;
/** Characters a tool name may use (MCP specification). */
export const TOOL_NAME_PATTERN = /^[A-Za-z0-9._-]{1,128}$/;

/** An `additionalPrinterColumns` entry. */
export interface PrinterColumn {
  /** Column header. */
  name: string;
  /** Column type: string, integer, number, boolean or date. */
  type: "string" | "integer" | "number" | "boolean" | "date";
  /** JSONPath into the object. */
  jsonPath: string;
  /** Column description. */
  description?: string;
  /** 0 shows the column by default, higher only with `-o wide`. */
  priority?: number;
}

/** One version of a CRD. */
export interface CrdVersion {
  /** Version name, e.g. `v1`. */
  name: string;
  /** Whether the API server serves this version. */
  served: boolean;
  /** Whether objects are stored in this version. */
  storage: boolean;
  /** Whether the version is deprecated. */
  deprecated?: boolean;
  /** Warning the API server returns for requests to a deprecated version. */
  deprecationWarning?: string;
  /** Root schema (`openAPIV3Schema`). */
  schema: ObjectSchema;
  /** Columns `kubectl get` shows. */
  printerColumns: PrinterColumn[];
  /** Whether the status subresource is enabled. */
  statusSubresource: boolean;
}

/** A custom resource definition. */
export interface CrdDefinition {
  /** API group. */
  group: string;
  /** Kind. */
  kind: string;
  /** Kind of lists. */
  listKind: string;
  /** Resource (plural) name. */
  plural: string;
  /** Singular name. */
  singular: string;
  /** Short names for kubectl. */
  shortNames: string[];
  /** Namespaced or Cluster. */
  scope: "Namespaced" | "Cluster";
  /** Versions, the storage version first. */
  versions: CrdVersion[];
  /** File name under `crds/`. */
  fileName: string;
}

const enabledDisabled = ["Enabled", "Disabled"] as const;

/** `metav1.Condition` as every status uses it. */
const condition = obj({
  lastTransitionTime: str({ format: "date-time", description: "When the condition last changed status." }),
  message: str({ maxLength: 32768, description: "Human readable details; may be empty." }),
  observedGeneration: int({
    format: "int64",
    minimum: 0,
    description: "The metadata.generation the condition was computed from.",
  }),
  reason: str({
    maxLength: 1024,
    minLength: 1,
    pattern: "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
    description: "CamelCase identifier of why the condition last changed.",
  }),
  status: enumOf(["True", "False", "Unknown"], { description: "One of True, False, Unknown." }),
  type: str({
    maxLength: 316,
    pattern:
      "^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
    description: "Condition type, e.g. Ready.",
  }),
}, {
  required: ["lastTransitionTime", "message", "reason", "status", "type"],
  description: "One observation of the object's state.",
});

function status(kind: string) {
  return obj({
    conditions: arr(condition, {
      listType: "map",
      listMapKeys: ["type"],
      description: `Observations of the ${kind}; Ready tells whether it is in use.`,
    }),
  }, { description: `Observed state of the ${kind}.` });
}

function root<S extends Schema>(kind: string, spec: S, requireSpec: boolean, description: string) {
  return obj({
    apiVersion: str({ description: "Versioned schema of this object, e.g. mcp.kuadrant.io/v1." }),
    kind: str({ description: `Always ${kind}.` }),
    metadata: { type: "object" } as ObjectSchema<Record<never, never>, never>,
    spec,
    status: status(kind),
  }, { required: requireSpec ? ["spec"] as const : [], description });
}

const secretName = () => str({ minLength: 1, description: "Name of the Secret in the same namespace." });

/** Spec schema of MCPServerRegistration. */
export const serverRegistrationSpec = obj({
  caCertSecretRef: obj({
    key: str({ default: "ca.crt", description: "Data key holding the PEM bundle; ca.crt when unset." }),
    name: secretName(),
  }, {
    required: ["name"],
    description:
      "Secret (labelled mcp.kuadrant.io/secret=true) with the CA bundle the broker trusts for this " +
      "server's TLS.",
  }),
  category: arr(str({ minLength: 1, maxLength: 128 }), {
    default: ["uncategorised"],
    maxItems: 3,
    listType: "atomic",
    description: "Up to three categories agents can filter on in discover_tools.",
  }),
  credentialRef: obj({
    key: str({ default: "token", description: "Data key holding the credential; token when unset." }),
    name: secretName(),
  }, {
    required: ["name"],
    description: "Secret (labelled mcp.kuadrant.io/secret=true) whose value the broker sends as the " +
      "Authorization header to this server only.",
  }),
  hint: str({ maxLength: 256, description: "Short summary of the server returned by discover_tools." }),
  path: str({ default: "/mcp", description: "Path of the MCP endpoint on the backend; /mcp when unset." }),
  prefix: str({
    pattern: "^[a-z0-9][a-z0-9_]*$",
    xValidations: [{ rule: "self == oldSelf", message: "prefix is immutable once set" }],
    description: "Prepended verbatim to every tool, prompt and resource name of this server " +
      "(github_ + search = github_search).",
  }),
  state: enumOf(enabledDisabled, {
    default: "Enabled",
    description: "Disabled removes the server's tools and stops the broker connecting to it.",
  }),
  tags: arr(str({ minLength: 1, maxLength: 128 }), {
    maxItems: 10,
    listType: "atomic",
    description: "Free-form labels exposed through the gateway's tag tools.",
  }),
  targetRef: obj({
    group: enumOf([GATEWAY_API_GROUP], { default: GATEWAY_API_GROUP, description: "Group of the target." }),
    kind: enumOf(["HTTPRoute"], { default: "HTTPRoute", description: "Kind of the target." }),
    name: str({ minLength: 1, description: "Name of the HTTPRoute." }),
    namespace: str({ description: "Namespace of the HTTPRoute; the registration's namespace when unset." }),
  }, {
    required: ["name"],
    description: "The HTTPRoute in front of the MCP server: one rule, one backendRef, at least one hostname.",
  }),
  tokenURLElicitation: obj({
    url: str({ pattern: "^https?://", description: "External page that collects the user's token." }),
  }, { description: "Collect per-user tokens through URL elicitation (-32042) at tool-call time." }),
  userSpecificList: enumOf(enabledDisabled, {
    default: "Disabled",
    description: "Enabled lists tools per user with the caller's credentials instead of caching one list.",
  }),
}, {
  required: ["targetRef"],
  xValidations: [{
    rule: 'self.userSpecificList != "Enabled" || self.prefix != "" ',
    message: "prefix is required when userSpecificList is Enabled",
  }],
  description: "Desired state of the MCPServerRegistration.",
});

const gatewayExtensionSpecProperties = {
  backendPingIntervalSeconds: int({
    default: 60,
    format: "int32",
    minimum: 10,
    maximum: 7200,
    description: "Seconds between health pings to every upstream server.",
  }),
  caCertBundleRef: obj({
    key: str({ default: "ca.crt", description: "Data key holding the PEM bundle; ca.crt when unset." }),
    name: secretName(),
  }, {
    required: ["name"],
    description: "Secret (labelled mcp.kuadrant.io/secret=true) with the base CA bundle for upstream and " +
      "gateway TLS.",
  }),
  httpRouteManagement: enumOf(enabledDisabled, {
    default: "Enabled",
    description: "Whether the operator creates and owns the gateway's HTTPRoute.",
  }),
  logLevel: enumOf(["debug", "info", "warn", "error"], {
    description: "Log verbosity of the broker and router.",
  }),
  maxBodyBytes: int({
    default: 1048576,
    format: "int32",
    description: "Largest body, in bytes, the router buffers.",
  }),
  oauthProtectedResource: obj({
    authorizationServers: arr(str({ pattern: "^https?://[^,]+$" }), {
      minItems: 1,
      maxItems: 10,
      listType: "atomic",
      description: "Authorization server URLs advertised to clients.",
    }),
    bearerMethodsSupported: arr(str(), {
      maxItems: 10,
      listType: "atomic",
      description: "Bearer token methods; the broker assumes header when unset.",
    }),
    resource: str({ maxLength: 2048, description: "Resource URI; https://<publicHost>/mcp when unset." }),
    resourceName: str({ maxLength: 253, description: "Display name; MCP Server when unset." }),
    scopesSupported: arr(str(), {
      maxItems: 50,
      listType: "atomic",
      description: "Scopes advertised; basic when unset.",
    }),
  }, {
    required: ["authorizationServers"],
    description: "RFC 9728 metadata served at /.well-known/oauth-protected-resource.",
  }),
  privateHost: str({
    description: "Host (optionally with scheme and port) for requests hair-pinned through " +
      "the gateway.",
  }),
  publicHost: str({ description: "Public host of the broker when the listener hostname is a wildcard." }),
  sessionStore: obj({
    secretName: str({
      minLength: 1,
      description: "Secret whose CACHE_CONNECTION_STRING key is a Redis URL.",
    }),
  }, {
    required: ["secretName"],
    description: "Redis session store shared by broker replicas; in-memory when unset.",
  }),
  targetRef: obj({
    group: enumOf([GATEWAY_API_GROUP], { default: GATEWAY_API_GROUP, description: "Group of the target." }),
    kind: enumOf(["Gateway"], { default: "Gateway", description: "Kind of the target." }),
    name: str({ minLength: 1, description: "Name of the Gateway." }),
    namespace: str({ description: "Namespace of the Gateway; the extension's namespace when unset." }),
    sectionName: str({
      minLength: 1,
      maxLength: 253,
      description: "Listener of the Gateway; one extension per namespace, one per listener port.",
    }),
  }, { required: ["name", "sectionName"], description: "The Gateway listener that gets MCP support." }),
  trustedHeadersKey: obj({
    generate: enumOf(enabledDisabled, {
      default: "Disabled",
      description: "Enabled makes the operator create the ECDSA P-256 key pair.",
    }),
    secretName: str({ minLength: 1, description: "Secret with the public key under the data key key." }),
  }, { required: ["secretName"], description: "Key pair that signs trusted headers for tool filtering." }),
  urlElicitation: enumOf(enabledDisabled, {
    default: "Disabled",
    description: "Enabled adds the /tokens route for URL elicitation.",
  }),
};

/** Spec schema of MCPGatewayExtension (v1). */
export const gatewayExtensionSpec = obj(gatewayExtensionSpecProperties, {
  required: ["targetRef"],
  description: "Desired state of the MCPGatewayExtension.",
});

const { maxBodyBytes: _maxBodyBytes, ...gatewayExtensionV1alpha1Properties } = gatewayExtensionSpecProperties;

/** Spec schema of MCPGatewayExtension v1alpha1 (no maxBodyBytes). */
export const gatewayExtensionSpecV1alpha1 = obj(gatewayExtensionV1alpha1Properties, {
  required: ["targetRef"],
  description: "Desired state of the MCPGatewayExtension.",
});

/** Spec schema of MCPVirtualServer. */
export const virtualServerSpec = obj({
  description: str({ description: "What this virtual server is for." }),
  prompts: arr(str(), { listType: "atomic", description: "Prompt names exposed; all prompts when unset." }),
  tools: arr(str(), {
    minItems: 1,
    listType: "atomic",
    description: "Prefixed tool names tools/list returns when this virtual server is selected.",
  }),
}, { required: ["tools"], description: "Desired state of the MCPVirtualServer." });

/** Root schema of MCPServerRegistration. */
export const serverRegistrationSchema = root(
  KIND_SERVER_REGISTRATION,
  serverRegistrationSpec,
  false,
  "Registers an upstream MCP server, reached through an HTTPRoute, with the gateway's broker.",
);
/** Root schema of MCPGatewayExtension. */
export const gatewayExtensionSchema = root(
  KIND_GATEWAY_EXTENSION,
  gatewayExtensionSpec,
  true,
  "Adds MCP handling (broker and router) to a listener of a Gateway API Gateway.",
);
const gatewayExtensionSchemaV1alpha1 = root(
  KIND_GATEWAY_EXTENSION,
  gatewayExtensionSpecV1alpha1,
  true,
  "Adds MCP handling (broker and router) to a listener of a Gateway API Gateway.",
);
/** Root schema of MCPVirtualServer. */
export const virtualServerSchema = root(
  KIND_VIRTUAL_SERVER,
  virtualServerSpec,
  false,
  "A named subset of the gateway's tools and prompts, selected with the X-Mcp-Virtualserver header.",
);

/** An MCPServerRegistration object. */
export type MCPServerRegistration = Infer<typeof serverRegistrationSchema>;
/** An MCPGatewayExtension object. */
export type MCPGatewayExtension = Infer<typeof gatewayExtensionSchema>;
/** An MCPVirtualServer object. */
export type MCPVirtualServer = Infer<typeof virtualServerSchema>;
/** Spec of an MCPServerRegistration. */
export type MCPServerRegistrationSpec = Infer<typeof serverRegistrationSpec>;
/** Spec of an MCPGatewayExtension. */
export type MCPGatewayExtensionSpec = Infer<typeof gatewayExtensionSpec>;
/** Spec of an MCPVirtualServer. */
export type MCPVirtualServerSpec = Infer<typeof virtualServerSpec>;

const readyColumn = (quote: "'" | '"', description: string): PrinterColumn => ({
  name: "Ready",
  type: "string",
  jsonPath: `.status.conditions[?(@.type==${quote}Ready${quote})].status`,
  description,
});
const ageColumn: PrinterColumn = { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" };

function versions(
  kind: string,
  schema: ObjectSchema,
  alphaSchema: ObjectSchema,
  printerColumns: PrinterColumn[],
): CrdVersion[] {
  return [
    { name: VERSION, served: true, storage: true, schema, printerColumns, statusSubresource: true },
    {
      name: DEPRECATED_VERSION,
      served: false,
      storage: false,
      deprecated: true,
      deprecationWarning: `${DEPRECATED_API_VERSION} ${kind} is deprecated; migrate to ${API_VERSION}`,
      schema: alphaSchema,
      printerColumns,
      statusSubresource: true,
    },
  ];
}

/** The MCPServerRegistration CRD. */
export const serverRegistrationCrd: CrdDefinition = {
  group: GROUP,
  kind: KIND_SERVER_REGISTRATION,
  listKind: `${KIND_SERVER_REGISTRATION}List`,
  plural: PLURAL_SERVER_REGISTRATION,
  singular: "mcpserverregistration",
  shortNames: ["mcpsr"],
  scope: "Namespaced",
  fileName: `${GROUP}_${PLURAL_SERVER_REGISTRATION}.yaml`,
  versions: versions(KIND_SERVER_REGISTRATION, serverRegistrationSchema, serverRegistrationSchema, [
    { name: "Prefix", type: "string", jsonPath: ".spec.prefix", description: "Prefix for federation" },
    {
      name: "Target",
      type: "string",
      jsonPath: ".spec.targetRef.name",
      description: "Target HTTPRoute (one backendRef only)",
    },
    { name: "Path", type: "string", jsonPath: ".spec.path", description: "MCP endpoint path" },
    readyColumn("'", "Ready status"),
    { name: "Category", type: "string", jsonPath: ".spec.category", description: "Categories for discovery" },
    { name: "Credentials", type: "string", jsonPath: ".spec.credentialRef.name" },
    ageColumn,
  ]),
};

/** The MCPGatewayExtension CRD. */
export const gatewayExtensionCrd: CrdDefinition = {
  group: GROUP,
  kind: KIND_GATEWAY_EXTENSION,
  listKind: `${KIND_GATEWAY_EXTENSION}List`,
  plural: PLURAL_GATEWAY_EXTENSION,
  singular: "mcpgatewayextension",
  shortNames: ["mcpge"],
  scope: "Namespaced",
  fileName: `${GROUP}_${PLURAL_GATEWAY_EXTENSION}.yaml`,
  versions: versions(KIND_GATEWAY_EXTENSION, gatewayExtensionSchema, gatewayExtensionSchemaV1alpha1, [
    readyColumn("'", "Ready status"),
    ageColumn,
  ]),
};

/** The MCPVirtualServer CRD. */
export const virtualServerCrd: CrdDefinition = {
  group: GROUP,
  kind: KIND_VIRTUAL_SERVER,
  listKind: `${KIND_VIRTUAL_SERVER}List`,
  plural: PLURAL_VIRTUAL_SERVER,
  singular: "mcpvirtualserver",
  shortNames: ["mcpvs"],
  scope: "Namespaced",
  fileName: `${GROUP}_${PLURAL_VIRTUAL_SERVER}.yaml`,
  versions: versions(KIND_VIRTUAL_SERVER, virtualServerSchema, virtualServerSchema, [
    readyColumn('"', "Ready condition"),
    { name: "Tools", type: "integer", jsonPath: ".spec.tools.length()" },
    ageColumn,
  ]),
};

/** Every CRD of the MCP gateway. */
export const CRDS: readonly CrdDefinition[] = [serverRegistrationCrd, gatewayExtensionCrd, virtualServerCrd];

/** The CRD of a kind, or undefined when the kind is not an MCP gateway kind. */
export function crdForKind(kind: string): CrdDefinition | undefined {
  return CRDS.find((crd) => crd.kind === kind);
}

/** The CRD a resource name (plural, singular, short name or kind, any case) refers to. */
export function crdForResource(name: string): CrdDefinition | undefined {
  const lower = name.toLowerCase().split(".")[0];
  return CRDS.find((crd) =>
    crd.plural === lower || crd.singular === lower || crd.kind.toLowerCase() === lower ||
    crd.shortNames.includes(lower)
  );
}

/** The root schema of `kind` in `version` (default the served version). */
export function schemaFor(kind: string, version: string = VERSION): ObjectSchema | undefined {
  return crdForKind(kind)?.versions.find((v) => v.name === version)?.schema;
}
