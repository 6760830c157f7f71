/**
 * `kubectl mcp tools`: the federated tool list as a client of a virtual server sees it, live, with
 * token estimates; `--explain NAME` says why a tool is listed or not.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { Command, Flags } from "./command.ts";
import { type Io, waitForAbort } from "./io.ts";
import { NO_HEADERS_FLAG, outputFlag } from "./flags.ts";
import {
  CLAIMS_FLAG,
  GATEWAY_FLAGS,
  IDENTITY_REPLAY_FLAGS,
  openToolSource,
  type ToolSource,
  USER_FLAGS,
  warnUnknownVirtualServer,
} from "./tool_source.ts";
import { UsageError } from "../errors.ts";
import { connectGateway, describe, listAllTools } from "../mcp/client.ts";
import { type ExplainAuth, explainTool, type Explanation } from "../tools/explain.ts";
import { explainAuth, replayGateway } from "../auth/can_i.ts";
import { attributionServers, formatToolTable, type ToolRow, toolRows, totals } from "../tools/mod.ts";
import { formatJson, formatYaml } from "../print/mod.ts";
import type { GatewayStatus } from "../../sim/mod.ts";

/** Flag for selecting a virtual server, shared with `call`. */
export const VIRTUAL_SERVER_FLAG = {
  name: "virtual-server",
  type: "string",
  description: "List as a client of this virtual server (NAMESPACE/NAME) sees it (X-Mcp-Virtualserver).",
  complete: "virtual-server",
} as const;

async function listRows(source: ToolSource, flags: Flags, signal: AbortSignal): Promise<ToolRow[]> {
  const client = await connectGateway(source.url, {
    virtualServer: flags.string("virtual-server"),
    token: source.identity.token,
    signal,
  });
  try {
    return await rowsFrom(client, source, flags);
  } finally {
    await client.close();
  }
}

async function rowsFrom(
  client: Awaited<ReturnType<typeof connectGateway>>,
  source: ToolSource,
  flags: Flags,
): Promise<ToolRow[]> {
  const tools = await listAllTools(client);
  const status = await source.status();
  const rows = toolRows(tools, attributionServers(status, await source.absent()));
  await withLimits(rows, source, status);
  const only = flags.string("server");
  if (!only) return rows;
  return rows.filter((row) => row.server === only || row.server.split("/")[1] === only);
}

/**
 * Adds each tool's RateLimitPolicy limits when the source is a replay that has RateLimitPolicies.
 * Their code (and its CEL engine) loads only then.
 */
async function withLimits(
  rows: ToolRow[],
  source: ToolSource,
  status: GatewayStatus | undefined,
): Promise<void> {
  const input = source.replay?.rateLimitInput;
  if (!input?.policies.length) return;
  const { formatToolLimit, limitsForTool, resolveToolLimits } = await import("../tools/limits.ts");
  const resolved = resolveToolLimits(input);
  for (const row of rows) {
    const prefix = status?.servers.find((server) => server.name === row.server)?.prefix ?? "";
    row.limits = limitsForTool(resolved, { name: row.name, server: row.server, prefix }).map(formatToolLimit);
  }
}

function render(io: Io, rows: ToolRow[], flags: Flags): void {
  const output = flags.string("output");
  const document = () => ({
    virtualServer: flags.string("virtual-server") ?? null,
    tools: rows.map((row) => ({
      ...row.definition,
      server: row.server,
      tokens: row.tokens,
      ...(row.limits ? { limits: row.limits } : {}),
    })),
    total: totals(rows),
  });
  if (output === "json") io.out(formatJson([document()]));
  else if (output === "yaml") io.out(formatYaml([document()]));
  else if (output === "name") io.out(rows.map((row) => `${row.name}\n`).join(""));
  else io.out(formatToolTable(rows, { wide: output === "wide", noHeaders: flags.boolean("no-headers") }));
}

/**
 * A client of the gateway as the identity, or, when a running gateway refuses it (401, 403), why:
 * the one thing `--explain` can say about its policies. A replay's refusals were asked of its gate.
 */
async function connectOrRefused(
  source: ToolSource,
  options: { virtualServer?: string; token?: string; signal: AbortSignal },
): Promise<Client | string> {
  try {
    return await connectGateway(source.url, options);
  } catch (error) {
    const why = describe((error as Error).cause ?? error);
    const refused = /\b(401|403)\b/.exec(why);
    if (!refused || source.replay) throw error;
    return `the gateway answers ${refused[1]}: ${why}`;
  }
}

async function explain(io: Io, source: ToolSource, flags: Flags, name: string): Promise<void> {
  const virtualServer = flags.string("virtual-server");
  const token = source.identity.token;
  // With replayed AuthPolicies, what they say about this identity (the rule that decided).
  const auth: ExplainAuth | undefined = source.replay?.gate
    ? await explainAuth(await replayGateway(source.replay), { token, virtualServer }, name)
    : undefined;
  const client = auth?.listDenied ??
    await connectOrRefused(source, { virtualServer, token, signal: io.signal });
  let explanation: Explanation;
  if (typeof client === "string") {
    explanation = explainTool(name, {
      listed: [],
      unfiltered: [],
      status: await source.status(),
      auth: { ...auth, listDenied: client },
    });
  } else {
    const plain = virtualServer ? await connectGateway(source.url, { token, signal: io.signal }) : client;
    try {
      explanation = explainTool(name, {
        listed: await listAllTools(client),
        unfiltered: virtualServer ? await listAllTools(plain) : await listAllTools(client),
        status: await source.status(),
        virtualServer,
        absent: await source.absent(),
        ...(auth ? { auth } : {}),
      });
    } finally {
      if (plain !== client) await plain.close();
      await client.close();
    }
  }
  // The limits a call of it counts against, when the replay has RateLimitPolicies.
  const input = source.replay?.rateLimitInput;
  if (input?.policies.length && explanation.server) {
    const { formatToolLimit, limitsForTool, resolveToolLimits } = await import("../tools/limits.ts");
    const status = await source.status();
    const prefix = status?.servers.find((server) => server.name === explanation.server)?.prefix ?? "";
    const limits = limitsForTool(resolveToolLimits(input), { name, server: explanation.server, prefix });
    explanation.reasons.push(
      ...limits.map((limit) => ({
        code: "rate-limit",
        message: `calls to ${name} count against RateLimitPolicy ${formatToolLimit(limit)}.`,
      })),
    );
    if (!limits.length) {
      explanation.reasons.push({
        code: "rate-limit",
        message: `no RateLimitPolicy limits calls to ${name}.`,
      });
    }
  }
  const output = flags.string("output");
  if (output === "json") return io.out(formatJson([explanation]));
  if (output === "yaml") return io.out(formatYaml([explanation]));
  io.out(`TOOL:     ${explanation.name}\n`);
  io.out(`LISTED:   ${explanation.listed ? "yes" : "no"}\n`);
  io.out(`SERVER:   ${explanation.server ?? "<unknown>"}\n`);
  for (const reason of explanation.reasons) io.out(`REASON:   ${reason.message} [${reason.code}]\n`);
}

/** The `tools` verb. */
export const toolsCommand: Command = {
  name: "tools",
  aliases: ["tool"],
  summary: "List the federated tools live, as a client of a virtual server sees them",
  description: [
    "List the federated tools live, as an MCP client of the gateway (or of one virtual server) sees",
    "them: from a replay of the cluster (port-forwarded, the default), of files (-f with --upstream),",
    "or from a running gateway (--gateway URL). -o wide adds input parameters (required ones end",
    "with *) and an estimate of the tokens each definition costs (JSON characters / 4).",
  ].join("\n"),
  usage:
    "tools [--virtual-server NS/NAME] [--server NAME] [-n NS | -A] [-o wide|json|yaml|name] [--watch] [--explain TOOL]",
  examples: [
    {
      comment: "What an agent using the issue-triage virtual server sees",
      command: "kubectl mcp tools --virtual-server mcp-demo/issue-triage -A",
    },
    {
      comment: "Why is a tool missing?",
      command: "kubectl mcp tools --explain github_create_issue --virtual-server mcp-demo/issue-triage -A",
    },
    {
      comment: "From a running gateway",
      command: "kubectl mcp tools --gateway http://127.0.0.1:8080/mcp -o wide",
    },
  ],
  flags: [
    VIRTUAL_SERVER_FLAG,
    {
      name: "server",
      type: "string",
      description: "Only tools of this registration (NAME or NAMESPACE/NAME).",
      complete: "server",
    },
    {
      name: "explain",
      type: "string",
      description: "Explain why this tool is, or is not, listed.",
      complete: "tool",
    },
    {
      name: "watch",
      short: "w",
      type: "boolean",
      description: "After listing, print the list again whenever it changes.",
    },
    outputFlag(["wide", "json", "yaml", "name"]),
    NO_HEADERS_FLAG,
    ...GATEWAY_FLAGS,
    ...USER_FLAGS,
    CLAIMS_FLAG,
    ...IDENTITY_REPLAY_FLAGS,
  ],
  async run({ io, args, flags }) {
    if (args.length > 0) {
      throw new UsageError(`tools takes no arguments, got "${args[0]}"`, {
        hint: "Use --explain TOOL to ask about one tool.",
      });
    }
    const source = await openToolSource(flags, io, { toolsOnly: true });
    try {
      warnUnknownVirtualServer(io, source, flags.string("virtual-server"));
      const name = flags.string("explain");
      if (name) {
        await explain(io, source, flags, name);
        return 0;
      }
      if (!flags.boolean("watch")) {
        render(io, await listRows(source, flags, io.signal), flags);
        return 0;
      }
      const client = await connectGateway(source.url, {
        virtualServer: flags.string("virtual-server"),
        token: source.identity.token,
        signal: io.signal,
      });
      try {
        let pending = Promise.resolve();
        const print = () =>
          pending = pending.then(async () => render(io, await rowsFrom(client, source, flags), flags));
        client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
          io.out("\n");
          print();
        });
        await print();
        await waitForAbort(io.signal);
        await pending;
      } finally {
        await client.close();
      }
      return 0;
    } finally {
      await source.close();
    }
  },
};
