/**
 * `kubectl mcp auth can-i`: asks the replayed AuthPolicies whether an identity may call a tool, get a
 * prompt or list the tools, as kubectl's `auth can-i` asks RBAC: `yes` (exit 0) or `no` (exit 1),
 * with the policy, rule and predicate that decided.
 *
 * @module
 */

import type { Command, Flags } from "./command.ts";
import type { Io } from "./io.ts";
import { outputFlag } from "./flags.ts";
import {
  CLAIMS_FLAG,
  GATEWAY_FLAGS,
  IDENTITY_REPLAY_FLAGS,
  openToolSource,
  type ToolSource,
  USER_FLAGS,
  warnUnknownVirtualServer,
} from "./tool_source.ts";
import { VIRTUAL_SERVER_FLAG } from "./tools.ts";
import { McpError, UsageError } from "../errors.ts";
import {
  canI,
  type CanIAction,
  type CanIAnswer,
  canICallEach,
  type CanIGateway,
  describeStep,
  formatAnswer,
  replayGateway,
} from "../auth/can_i.ts";
import { connectGateway, describe, listAllTools } from "../mcp/client.ts";
import { formatJson, formatTable, formatYaml } from "../print/mod.ts";

const VERBS = ["call", "get-prompt", "list"] as const;

/** The action the arguments name. */
function actionOf(args: string[]): CanIAction {
  const [verb, name, extra] = args;
  const usage = "expected call TOOL, get-prompt NAME or list tools";
  if (verb === undefined) throw new UsageError(`auth can-i needs a question: ${usage}`);
  if (!(VERBS as readonly string[]).includes(verb)) {
    throw new UsageError(`unknown verb "${verb}" for auth can-i: ${usage}`);
  }
  if (name === undefined) throw new UsageError(`auth can-i ${verb} needs a name: ${usage}`);
  if (extra !== undefined) throw new UsageError(`auth can-i takes two arguments, got "${extra}" too`);
  if (verb === "list") {
    if (name !== "tools") throw new UsageError(`auth can-i list takes "tools", got "${name}"`);
    return { verb, name };
  }
  return { verb: verb as "call" | "get-prompt", name };
}

/** `list tools` of a running gateway: connect and list as the identity (no rule to name: it does not say). */
async function listThroughGateway(source: ToolSource, flags: Flags, io: Io): Promise<CanIAnswer> {
  const virtualServer = flags.string("virtual-server");
  const step = { request: "tools/list", where: source.url, policies: [] };
  try {
    const client = await connectGateway(source.url, {
      virtualServer,
      token: source.identity.token,
      signal: io.signal,
    });
    try {
      const tools = await listAllTools(client);
      return {
        allowed: true,
        action: "list tools",
        ...(virtualServer ? { virtualServer } : {}),
        decidedBy: { ...step, allowed: true, reason: `the gateway lists ${tools.length} tools` },
        steps: [],
        tools: tools.map((tool) => ({ name: tool.name, server: "", listed: true })),
        notes: [
          "a running gateway does not say which rule decided; ask a replay (the default, or -f) for that",
        ],
      };
    } finally {
      await client.close();
    }
  } catch (error) {
    if (!(error instanceof McpError) && !/\b(401|403)\b/.test(describe(error))) throw error;
    return {
      allowed: false,
      action: "list tools",
      ...(virtualServer ? { virtualServer } : {}),
      decidedBy: { ...step, allowed: false, reason: describe((error as Error).cause ?? error) },
      steps: [],
      notes: [],
    };
  }
}

function render(io: Io, flags: Flags, answer: CanIAnswer, identity: string): void {
  const output = flags.string("output");
  if (output === "json" || output === "yaml") {
    const document = { identity, ...answer };
    io.out(output === "json" ? formatJson([document]) : formatYaml([document]));
    return;
  }
  if (!flags.boolean("quiet")) io.out(formatAnswer(answer));
}

async function renderList(
  io: Io,
  flags: Flags,
  gw: CanIGateway,
  identity: ToolSource["identity"],
): Promise<void> {
  const virtualServer = flags.string("virtual-server");
  const each = await canICallEach(gw, { token: identity.token, virtualServer });
  const output = flags.string("output");
  if (output === "json" || output === "yaml") {
    const document = {
      identity: identity.label,
      ...(virtualServer ? { virtualServer } : {}),
      session: each.session,
      tools: each.tools.map(({ answer, ...tool }) => ({
        ...tool,
        allowed: answer.allowed,
        decidedBy: answer.decidedBy,
      })),
      notes: each.notes,
    };
    io.out(output === "json" ? formatJson([document]) : formatYaml([document]));
    return;
  }
  const allowed = each.tools.filter((tool) => tool.answer.allowed);
  if (flags.boolean("quiet")) return;
  if (allowed.length) {
    type Row = (typeof allowed)[number];
    io.out(formatTable<Row>(
      [
        { header: "tool", value: (tool) => tool.name },
        { header: "server", value: (tool) => tool.server },
        {
          header: "listed",
          value: (tool) =>
            tool.listed ? "yes" : `no (${tool.filteredBy === "wristband" ? "wristband" : "virtual server"})`,
        },
      ],
      allowed,
      { noHeaders: flags.boolean("no-headers") },
    ));
  }
  const refused = each.session.find((step) => !step.allowed);
  if (refused) {
    io.err(`No tools: ${describeStep(refused).join("\n  ")}\n`);
  } else if (!allowed.length) {
    io.err(`No tools: ${identity.label} may call none of the ${each.tools.length} tools.\n`);
  }
  for (const note of each.notes) io.err(`note: ${note}\n`);
}

const canICommand: Command = {
  name: "can-i",
  summary: "Check whether an identity may call a tool, get a prompt or list the tools",
  description: [
    "Ask the AuthPolicies whether an identity may call a tool, get a prompt or list the tools, as",
    "kubectl auth can-i asks RBAC: prints yes (exit 0) or no (exit 1) and the policy, rule and",
    "predicate that decided (or the identity error). The answer is the gateway's: the session a",
    "client opens (initialize through the broker's route), then the call through the tool's server",
    "route with the x-mcp-* headers the router sets; list tools also filters by the wristband the",
    "policy issues and the virtual server. The identity is a token (--token), a user of a running",
    "simulate --dev-idp (--user), a what-if set of claims taken as verified (--claims), or anonymous.",
    "The policies come from the cluster (the default) or files (-f); --gateway asks a running",
    "gateway, which can only answer list tools, without the rule.",
  ].join("\n"),
  usage:
    "auth can-i (call TOOL | get-prompt NAME | list tools | --list) [--token T | --user NAME | --claims FILE] [--virtual-server NS/NAME] [-o json|yaml] [options]",
  examples: [
    {
      comment: "May alice call github_create_issue? (a user of a running simulate --dev-idp)",
      command: "kubectl mcp auth can-i call github_create_issue --user alice -A",
    },
    {
      comment: "What if a token carried these claims? (no signature needed)",
      command:
        "kubectl mcp auth can-i call weather_search --claims claims.yaml -f manifests/ --upstream weather=http://127.0.0.1:9001/mcp",
    },
    {
      comment: "Every tool this token may call, through a virtual server",
      command: 'kubectl mcp auth can-i --list --token "$TOKEN" --virtual-server mcp-demo/issue-triage -A',
    },
  ],
  args: [
    { name: "VERB", values: VERBS },
    { name: "NAME", complete: "tool" },
  ],
  flags: [
    {
      name: "list",
      type: "boolean",
      description: "Print every tool the identity may call (with whether its tools/list shows it).",
    },
    {
      name: "quiet",
      short: "q",
      type: "boolean",
      description: "Print nothing: the exit code says yes (0) or no (1).",
    },
    VIRTUAL_SERVER_FLAG,
    outputFlag(["json", "yaml"]),
    { name: "no-headers", type: "boolean", description: "With --list, print the table without its header." },
    ...GATEWAY_FLAGS,
    ...USER_FLAGS,
    CLAIMS_FLAG,
    ...IDENTITY_REPLAY_FLAGS,
  ],
  async run({ io, args, flags }) {
    const list = flags.boolean("list");
    if (list && args.length) throw new UsageError("auth can-i --list takes no question; drop the arguments");
    const action = list ? undefined : actionOf(args);
    if (flags.string("gateway") && (list || action?.verb !== "list")) {
      throw new UsageError(
        "a running gateway (--gateway) can only answer auth can-i list tools: the other questions need its policies",
        { hint: "Ask a replay instead: the cluster's (the default) or the files' (-f)." },
      );
    }
    const source = await openToolSource(flags, io, { auth: true });
    try {
      const virtualServer = flags.string("virtual-server");
      warnUnknownVirtualServer(io, source, virtualServer);
      if (!source.replay) {
        const answer = await listThroughGateway(source, flags, io);
        render(io, flags, answer, source.identity.label);
        return answer.allowed ? 0 : 1;
      }
      const gw = await replayGateway(source.replay);
      if (!action) {
        await renderList(io, flags, gw, source.identity);
        return 0;
      }
      const answer = await canI(gw, { token: source.identity.token, virtualServer }, action);
      render(io, flags, answer, source.identity.label);
      return answer.allowed ? 0 : 1;
    } finally {
      await source.close();
    }
  },
};

/** The `auth` verb group. */
export const authCommand: Command = {
  name: "auth",
  summary: "Inspect authorization: may an identity call a tool (auth can-i)",
  usage: "auth <command> [options]",
  subcommands: [canICommand],
};
