/**
 * Typed errors of the simulator gateway. Each has a stable `code` so tests and `/status` can match
 * on it instead of on message text.
 *
 * @module
 */
import { KubectlMcpError, type KubectlMcpErrorOptions } from "../src/errors.ts";

/** Base class of every error the simulator gateway raises. */
export class GatewayError extends KubectlMcpError {
  override readonly code: string = "ERR_GATEWAY";
}

/** A gateway configuration (objects, broker file, options) that cannot be used. */
export class GatewayConfigError extends GatewayError {
  override readonly code: string = "ERR_GATEWAY_CONFIG";
}

/** An upstream MCP server could not be reached or answered with something unusable. */
export class UpstreamError extends GatewayError {
  override readonly code: string = "ERR_UPSTREAM";
  /** `ns/name` of the upstream registration. */
  readonly server: string;
  /** HTTP status of the failing upstream exchange, when there was one. */
  readonly status?: number;

  constructor(server: string, message: string, options: KubectlMcpErrorOptions & { status?: number } = {}) {
    super(message, options);
    this.server = server;
    this.status = options.status;
  }
}

/** A session id that is missing, forged, expired or unknown. */
export class SessionError extends GatewayError {
  override readonly code: string = "ERR_SESSION";
}
