/**
 * The simulator gateway: a real MCP gateway that federates MCP servers the way the Kuadrant broker
 * does. Start one with `startGateway(config)`, or mount `Gateway#handler` in another server.
 *
 * @module
 */
export { createHandler, Gateway, startGateway } from "./gateway.ts";
export type { RunningGateway, StartOptions } from "./gateway.ts";
export type { GatewayOptions, Logger } from "./options.ts";
export type { GatewayStatus, ServerStatus } from "./status.ts";
export {
  configFromBrokerFile,
  configFromObjects,
  DEFAULT_EXTENSION,
  normalizeConfig,
  serverEndpoint,
} from "./config.ts";
export type {
  ExtensionConfig,
  GatewayConfig,
  GatewayConfigInput,
  InvalidToolPolicy,
  ServerConfig,
  VirtualServerConfig,
} from "./config.ts";
export {
  buildCatalog,
  decodeResourceUri,
  encodeResourceUri,
  serverKeys,
  validateTool,
} from "./federation.ts";
export type {
  Catalog,
  Conflict,
  FederatedPrompt,
  FederatedTool,
  InvalidTool,
  ServerListing,
} from "./federation.ts";
export { allowAll, chainPolicies } from "./policy.ts";
export type { PolicyDecision, PolicyInput, RequestPolicy } from "./policy.ts";
export { attributeHeaders, computeAttributes, renderAnnotationHints } from "./routing.ts";
export type { RequestAttributes } from "./routing.ts";
export { MemorySessionStore, SessionStoreError } from "./store.ts";
export { isClusterInternalHost, maskRedisUrl, parseRedisUrl, RedisSessionStore } from "./store_redis.ts";
export type { RedisSessionStoreOptions } from "./store_redis.ts";
export type { RelayMessage, SessionRecord, SessionStore } from "./store.ts";
export { SessionSigner } from "./session.ts";
export { Metrics } from "./metrics.ts";
export { GatewayConfigError, GatewayError, SessionError, UpstreamError } from "./errors.ts";
