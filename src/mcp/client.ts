/**
 * An MCP client for a gateway endpoint, as an agent would connect: Streamable HTTP, optional bearer
 * token and virtual-server header. Used by `tools`, `call` and the tests.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { VERSION } from "../cli/version.ts";
import { McpError } from "../errors.ts";
import { redactedMessage } from "../../sim/redact.ts";

/** The header that selects a virtual server on the Kuadrant gateway. */
export const VIRTUAL_SERVER_HEADER = "X-Mcp-Virtualserver";

/** Options for {@link connectGateway}. */
export interface ConnectOptions {
  /** `namespace/name` of the virtual server to select. */
  virtualServer?: string;
  /** Bearer token sent as Authorization. */
  token?: string;
  /** More headers to send with every request. */
  headers?: Record<string, string>;
  /** Aborts connecting and every later request: the client closes when it aborts. */
  signal?: AbortSignal;
}

/** Connects an MCP client to `url`; the caller closes it. */
export async function connectGateway(url: string, options: ConnectOptions = {}): Promise<Client> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.virtualServer) headers[VIRTUAL_SERVER_HEADER] = options.virtualServer;
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  let endpoint: URL;
  try {
    endpoint = new URL(url);
  } catch {
    throw new McpError(`invalid gateway URL "${url}": expected e.g. http://127.0.0.1:8080/mcp`);
  }
  const transport = new StreamableHTTPClientTransport(endpoint, {
    requestInit: { headers, signal: options.signal },
  });
  const client = new Client({ name: "kubectl-mcp", version: VERSION }, { capabilities: {} });
  // The transport's fetches use a signal of its own, not requestInit's: closing the client is what
  // aborts them and fails the pending requests.
  const signal = options.signal;
  const close = () => void client.close().catch(() => {});
  signal?.addEventListener("abort", close, { once: true });
  const onclose = client.onclose;
  client.onclose = () => {
    signal?.removeEventListener("abort", close);
    onclose?.();
  };
  try {
    await client.connect(transport, { signal });
  } catch (error) {
    signal?.throwIfAborted();
    throw new McpError(`cannot connect to the MCP gateway at ${url}: ${describe(error)}`, { cause: error });
  }
  return client;
}

/** Lists every tool, following pagination cursors. */
export async function listAllTools(client: Client): Promise<Tool[]> {
  const tools: Tool[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.listTools(cursor ? { cursor } : undefined);
    for (const tool of page.tools) tools.push(tool);
    cursor = page.nextCursor;
  } while (cursor);
  return tools;
}

/** A readable one-line reason for a failed MCP request; a header value fetch quotes is not shown. */
export function describe(error: unknown): string {
  return redactedMessage(error).replace(/^Error: /, "");
}
