/**
 * `kubectl mcp register`: scaffolds an MCPServerRegistration (and the HTTPRoute and Secret it
 * needs), validates it, and applies it or prints it.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { listFlag } from "./output.ts";
import { UsageError } from "../errors.ts";
import {
  DEFAULT_GATEWAY,
  parseNamespacedName,
  parseSecretKey,
  parseServicePort,
  scaffoldRegistration,
} from "../scaffold/mod.ts";
import { finishScaffold, SCAFFOLD_FLAGS, scaffoldNamespace, singleName } from "./scaffold_output.ts";

/** The `register` verb. */
export const registerCommand: Command = {
  name: "register",
  summary: "Register an MCP server with the gateway (MCPServerRegistration, HTTPRoute, Secret)",
  description: [
    "Register an MCP server with the Kuadrant MCP gateway.",
    "",
    "Creates an MCPServerRegistration pointing at an existing HTTPRoute (--route), or at a Service",
    "through a new HTTPRoute (--service and --hostname). The tool prefix defaults to the name",
    "(github-mcp gives github_). Everything is validated before it is applied or printed.",
  ].join("\n"),
  usage: "register NAME (--route ROUTE | --service SVC:PORT --hostname HOST) [options]",
  examples: [
    {
      comment: "Register the server behind an existing HTTPRoute",
      command: "kubectl mcp register github --route github-mcp-route -n mcp-servers",
    },
    {
      comment: "Create an HTTPRoute for a Service and print everything instead of applying it",
      command:
        "kubectl mcp register weather --service weather:8080 --hostname weather.mcp.local --dry-run=client -o yaml",
    },
    {
      comment: "Register a server that needs a token, creating the labelled Secret",
      command:
        'kubectl mcp register search --route search-route --credential search-token --credential-from-literal "Bearer $TOKEN"',
    },
  ],
  args: [{ name: "NAME" }],
  flags: [
    {
      name: "route",
      type: "string",
      description: "An existing HTTPRoute in front of the server (NAME or NAMESPACE/NAME).",
      complete: "route",
    },
    {
      name: "service",
      type: "string",
      description: "A Service in front of the server, as SERVICE:PORT; an HTTPRoute is created for it.",
    },
    { name: "hostname", type: "string", description: "Hostname of the HTTPRoute created for --service." },
    {
      name: "gateway",
      type: "string",
      description:
        `Gateway the created HTTPRoute attaches to, as NAMESPACE/NAME (default ${DEFAULT_GATEWAY.namespace}/${DEFAULT_GATEWAY.name}).`,
      complete: "gateway",
    },
    { name: "prefix", type: "string", description: 'Tool prefix (default: derived from NAME; "" for none).' },
    {
      name: "path",
      type: "string",
      description: "MCP endpoint path on the server (the gateway's default is /mcp).",
    },
    {
      name: "credential",
      type: "string",
      description: "Secret whose value is sent as Authorization to this server, as SECRET[:KEY].",
      complete: "secret",
    },
    {
      name: "credential-from-literal",
      type: "string",
      description: "Create the --credential Secret with this value (never printed).",
    },
    {
      name: "category",
      type: "string",
      multiple: true,
      description: "Category for tool discovery (repeatable, at most 3).",
    },
    {
      name: "tag",
      type: "string",
      multiple: true,
      description: "Tag for tool discovery (repeatable, at most 10).",
    },
    { name: "hint", type: "string", description: "A short description of what the server offers." },
    { name: "disabled", type: "boolean", description: "Register the server disabled." },
    {
      name: "max-tool-name",
      type: "string",
      default: "64",
      description: "Warn when the prefix leaves too little room under this tool-name length.",
    },
    ...SCAFFOLD_FLAGS,
  ],
  async run({ io, args, flags }) {
    const name = singleName(args, "register");
    const service = flags.string("service");
    const hostname = flags.string("hostname");
    if (service && !hostname) {
      throw new UsageError("--service needs --hostname: the HTTPRoute must have at least one hostname");
    }
    if (hostname && !service) throw new UsageError("--hostname goes with --service");
    const route = flags.string("route");
    const gateway = flags.string("gateway");
    const credential = flags.string("credential");
    const objects = scaffoldRegistration({
      name,
      namespace: scaffoldNamespace(flags, io),
      route: route ? parseNamespacedName(route, "route", false) : undefined,
      service: service ? { ...parseServicePort(service), hostname: hostname! } : undefined,
      gateway: gateway ? parseNamespacedName(gateway, "gateway") : undefined,
      prefix: flags.string("prefix"),
      path: flags.string("path"),
      credential: credential ? parseSecretKey(credential, "credential") : undefined,
      credentialLiteral: flags.string("credential-from-literal"),
      categories: listFlag(flags.strings("category")),
      tags: listFlag(flags.strings("tag")),
      hint: flags.string("hint"),
      disabled: flags.boolean("disabled"),
    });
    return await finishScaffold(io, objects, flags);
  },
};
