/**
 * MCP servers with many tools for the scale suite, all in one process so that 50 of them cost one
 * Deno runtime: `deno run -A bench/tools_server.ts --servers 50 --tools 100 [--prefixes]` starts 50
 * listeners serving 100 tools each (`tool_000`...); with `--prefixes` one listener serves all
 * `servers x tools` tools under the names the gateway gives them (`s00_tool_000`...), so it answers
 * `tools/list` with the list the gateway serves; `--static` adds to that a floor that knows no MCP:
 * one listener answering every request with the bytes of that answer, prepared once. Prints
 * `listening tools URL` per listener, then `ready`. The list is built once: a server that answers
 * from memory, as a fast one would.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ListToolsRequestSchema, type Tool } from "@modelcontextprotocol/sdk/types.js";
import { parseArgs } from "node:util";
import { serveMcp } from "../test/fixtures/harness.ts";
import { whileServing } from "./gc_signal.ts";

/** The prefix the scale suite registers server `i` with. */
export const toolServerPrefix = (i: number): string => `s${String(i).padStart(2, "0")}_`;

/**
 * Tool `j` of a server, named `name`: a description and a two-property schema, about 250 bytes of
 * JSON, with the `annotations` the gateway would add anyway so both lists are the same bytes.
 */
function tool(name: string, j: number): Tool {
  return {
    name,
    description: `Looks up record ${j} by a query and returns at most limit matches as text.`,
    inputSchema: {
      type: "object",
      properties: {
        query: { type: "string", description: "What to look up" },
        limit: { type: "integer", description: "Most matches to return" },
      },
      required: ["query"],
    },
    annotations: { readOnlyHint: true },
  };
}

async function main(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      servers: { type: "string", default: "50" },
      tools: { type: "string", default: "100" },
      prefixes: { type: "boolean", default: false },
      static: { type: "boolean", default: false },
    },
  });
  const servers = Number(values.servers);
  const perServer = Number(values.tools);
  const names = (prefix: string) =>
    Array.from({ length: perServer }, (_, j) => ({ name: `${prefix}tool_${String(j).padStart(3, "0")}`, j }));
  const lists: Tool[][] = values.prefixes
    ? [
      Array.from({ length: servers }, (_, i) => names(toolServerPrefix(i))).flat().map((t) =>
        tool(t.name, t.j)
      ),
    ]
    : Array.from({ length: servers }, () => names("").map((t) => tool(t.name, t.j)));
  if (values.static) return await serveStatic(lists.flat());
  const stopped = whileServing();
  const running = [];
  for (const tools of lists) {
    const server = await serveMcp({
      name: "tools",
      createServer: () => {
        const mcp = new McpServer({ name: "tools", version: "1.0.0" }, { capabilities: { tools: {} } });
        mcp.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools }));
        return mcp;
      },
    });
    running.push(server);
    console.log(`listening tools ${server.url}`);
  }
  console.log("ready");
  await stopped;
  await Promise.all(running.map((s) => s.close()));
  return 0;
}

/** Answers every request with the JSON-RPC answer listing `tools`, its bytes prepared once and not copied. */
async function serveStatic(tools: Tool[]): Promise<number> {
  const body = new TextEncoder().encode(`${JSON.stringify({ jsonrpc: "2.0", id: 1, result: { tools } })}\n`);
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    await req.body?.cancel();
    return new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(body);
          controller.close();
        },
      }),
      { headers: { "content-type": "application/json" } },
    );
  });
  const stopped = whileServing();
  console.log(`listening tools http://127.0.0.1:${server.addr.port}/mcp`);
  console.log("ready");
  await stopped;
  await server.shutdown();
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
