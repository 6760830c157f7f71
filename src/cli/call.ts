/**
 * `kubectl mcp call TOOL`: calls a federated tool through the gateway (a replay, or a running
 * gateway with --gateway) and prints its result.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/types"
import type { CallToolResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { Command } from "./command.ts";
import { outputFlag } from "./flags.ts";
import {
  GATEWAY_FLAGS,
  IDENTITY_REPLAY_FLAGS,
  openToolSource,
  USER_FLAGS,
  warnUnknownVirtualServer,
} from "./tool_source.ts";
import { VIRTUAL_SERVER_FLAG } from "./tools.ts";
import { McpError, UsageError } from "../errors.ts";
import { connectGateway, describe, listAllTools } from "../mcp/client.ts";
import { formatJson, formatYaml } from "../print/mod.ts";

/**
 * Builds tool arguments from `--json` and `--arg k=v` flags; `--arg` values take the type the
 * tool's input schema gives the property (numbers, booleans, objects and arrays as JSON).
 */
export function buildArguments(
  tool: Tool,
  json: string | undefined,
  pairs: readonly string[],
): Record<string, unknown> {
  let args: Record<string, unknown> = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json);
    } catch (error) {
      throw new UsageError(`invalid value for --json: ${(error as Error).message}`);
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) {
      throw new UsageError("--json must be a JSON object of tool arguments");
    }
  }
  const properties = (tool.inputSchema.properties ?? {}) as Record<string, { type?: string | string[] }>;
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new UsageError(`invalid value "${pair}" for --arg: expected NAME=VALUE`);
    const key = pair.slice(0, at);
    const raw = pair.slice(at + 1);
    const declared = properties[key]?.type;
    const type = Array.isArray(declared) ? declared.find((t) => t !== "null") : declared;
    if (type === undefined || type === "string") {
      args[key] = raw;
      continue;
    }
    try {
      args[key] = JSON.parse(raw);
    } catch {
      throw new UsageError(`invalid value "${raw}" for --arg ${key}: the tool expects a ${type} (JSON)`);
    }
  }
  return args;
}

/** Renders a tool result as text: text content as is, other content as one-line descriptions. */
export function formatResultText(result: CallToolResult): string {
  const parts: string[] = [];
  for (const item of result.content ?? []) {
    switch (item.type) {
      case "text":
        parts.push(item.text);
        break;
      case "image":
      case "audio":
        parts.push(`[${item.type} ${item.mimeType}, ${Math.floor(item.data.length * 3 / 4)} bytes]`);
        break;
      case "resource": {
        const resource = item.resource as { uri: string; text?: string };
        parts.push(resource.text !== undefined ? resource.text : `[resource ${resource.uri}]`);
        break;
      }
      case "resource_link":
        parts.push(`[link ${item.uri}${item.name ? ` (${item.name})` : ""}]`);
        break;
    }
  }
  if (parts.length === 0 && result.structuredContent !== undefined) {
    parts.push(JSON.stringify(result.structuredContent, null, 2));
  }
  return parts.join("\n") + (parts.length > 0 ? "\n" : "");
}

/** The `call` verb. */
export const callCommand: Command = {
  name: "call",
  summary: "Call a federated tool through the gateway and print the result",
  usage:
    "call TOOL [--arg NAME=VALUE]... [--json '{...}'] [--virtual-server NS/NAME] [-o json|yaml] [options]",
  examples: [
    {
      comment: "Call a tool with arguments",
      command: "kubectl mcp call weather_get_forecast --arg city=Paris -A",
    },
    {
      comment: "Through a running gateway, JSON out",
      command:
        'kubectl mcp call github_search --json \'{"query":"mcp"}\' --gateway http://127.0.0.1:8080/mcp -o json',
    },
  ],
  args: [{ name: "TOOL", complete: "tool" }],
  flags: [
    {
      name: "arg",
      type: "string",
      multiple: true,
      description: "A tool argument as NAME=VALUE (repeatable); typed by the tool's schema.",
    },
    {
      name: "json",
      type: "string",
      description: "Tool arguments as a JSON object; --arg values are laid over it.",
    },
    VIRTUAL_SERVER_FLAG,
    outputFlag(["json", "yaml"]),
    ...GATEWAY_FLAGS,
    ...USER_FLAGS,
    ...IDENTITY_REPLAY_FLAGS,
  ],
  async run({ io, args, flags }) {
    if (args.length !== 1) {
      throw new UsageError("call takes exactly one TOOL", {
        hint: "See 'kubectl mcp call --help' for usage.",
      });
    }
    const name = args[0];
    const source = await openToolSource(flags, io, { toolsOnly: true });
    try {
      const virtualServer = flags.string("virtual-server");
      warnUnknownVirtualServer(io, source, virtualServer);
      const client = await connectGateway(source.url, {
        virtualServer,
        token: source.identity.token,
        signal: io.signal,
      });
      try {
        const tool = (await listAllTools(client)).find((candidate) => candidate.name === name);
        if (!tool) {
          const where = virtualServer ? ` for virtual server ${virtualServer}` : "";
          throw new McpError(`tool "${name}" is not listed${where}`, {
            hint: `Run 'kubectl mcp tools --explain ${name}' to see why.`,
          });
        }
        const toolArgs = buildArguments(tool, flags.string("json"), flags.strings("arg"));
        let result: CallToolResult;
        try {
          result = await client.callTool({ name, arguments: toolArgs }, undefined, {
            signal: io.signal,
          }) as CallToolResult;
        } catch (error) {
          throw new McpError(`calling ${name} failed: ${describe(error)}`, { cause: error });
        }
        const output = flags.string("output");
        if (output === "json") io.out(formatJson([result]));
        else if (output === "yaml") io.out(formatYaml([result]));
        else if (result.isError) io.err(formatResultText(result));
        else io.out(formatResultText(result));
        return result.isError ? 1 : 0;
      } finally {
        await client.close();
      }
    } finally {
      await source.close();
    }
  },
};
