/**
 * The model of the MCP gateway custom resources: constants, the schema DSL, the three CRDs, TypeScript
 * types, zod models and API-server-style defaulting.
 *
 * @module
 */

export * from "./crds.ts";
export * from "./schema.ts";
export { applyDefaults, cloneJson, defaultInPlace, pruneNullsInPlace, schemaOfObject } from "./defaults.ts";
export { MCPGatewayExtensionModel, MCPServerRegistrationModel, MCPVirtualServerModel, toZod } from "./zod.ts";
export { renderCrdYaml, sortKeys, toCrdObject, toOpenApi } from "./render.ts";
