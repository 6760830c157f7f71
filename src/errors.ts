/**
 * Error classes shared by every verb. Each has a stable `code` that tests and JSON output rely on,
 * and the process exit code `main.ts` uses when the error reaches the top.
 *
 * @module
 */

import { redactedMessage, redactHeaderValues } from "../sim/redact.ts";

/** Exit code when everything succeeded. */
export const EXIT_OK = 0;
/** Exit code when the operation failed: validation errors, API errors, an unreachable cluster. */
export const EXIT_FAILURE = 1;
/** Exit code for a usage error: unknown verb or flag, bad flag value, missing argument. */
export const EXIT_USAGE = 2;

/** Options common to every kubectl-mcp error. */
export interface KubectlMcpErrorOptions {
  /** The underlying error, kept for `--v` style debugging. */
  cause?: unknown;
  /** A hint printed after the message, e.g. the command that fixes the problem. */
  hint?: string;
}

/** Base class of every error kubectl-mcp reports to a user. */
export class KubectlMcpError extends Error {
  /** Stable machine-readable code, e.g. `ERR_USAGE`. */
  readonly code: string = "ERR_KUBECTL_MCP";
  /** Process exit code when this error ends the program. */
  readonly exitCode: number = EXIT_FAILURE;
  /** A hint that tells the user what to do next. */
  readonly hint?: string;

  constructor(message: string, options: KubectlMcpErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
  }
}

/** A command line that cannot be run as written. */
export class UsageError extends KubectlMcpError {
  override readonly code: string = "ERR_USAGE";
  override readonly exitCode: number = EXIT_USAGE;
}

/** Input (a manifest, a file, stdin) that cannot be read or parsed. */
export class InputError extends KubectlMcpError {
  override readonly code: string = "ERR_INPUT";
}

/** Validation found errors; the findings have already been printed. */
export class ValidationFailedError extends KubectlMcpError {
  override readonly code: string = "ERR_VALIDATION";
}

/** No usable cluster configuration (kubeconfig, context, in-cluster). */
export class ConfigError extends KubectlMcpError {
  override readonly code: string = "ERR_KUBECONFIG";
}

/** The Kubernetes API server answered with an error, or could not be reached. */
export class KubeApiError extends KubectlMcpError {
  override readonly code: string = "ERR_KUBE_API";
  /** HTTP status from the API server, 0 when it could not be reached. */
  readonly status: number;
  /** The Status reason (`Forbidden`, `NotFound`, `Conflict`, ...) when the server sent one. */
  readonly reason?: string;

  constructor(message: string, options: KubectlMcpErrorOptions & { status?: number; reason?: string } = {}) {
    super(message, options);
    this.status = options.status ?? 0;
    this.reason = options.reason;
  }
}

/** The MCP gateway or an MCP server failed a request. */
export class McpError extends KubectlMcpError {
  override readonly code: string = "ERR_MCP";
}

/**
 * Formats an error the way kubectl does: `error: message`, then the hint on its own line. A header
 * value that fetch quoted in the error (a token, a credential) is not shown.
 */
export function formatError(error: unknown): string {
  if (error instanceof KubectlMcpError) {
    const hint = error.hint ? `\n${redactHeaderValues(error.hint)}` : "";
    return `error: ${redactHeaderValues(error.message)}${hint}`;
  }
  return `error: ${redactedMessage(error)}`;
}

/** The exit code for an error that reached the top of the program. */
export function exitCodeOf(error: unknown): number {
  return error instanceof KubectlMcpError ? error.exitCode : EXIT_FAILURE;
}
