/**
 * `kubectl mcp gateway init`: scaffolds the MCPGatewayExtension that turns a Gateway listener into
 * an MCP endpoint, and with an issuer the AuthPolicy and protected-resource metadata for OAuth.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { UsageError } from "../errors.ts";
import { parseNamespacedName, scaffoldGateway } from "../scaffold/mod.ts";
import { finishScaffold, SCAFFOLD_FLAGS } from "./scaffold_output.ts";

const initCommand: Command = {
  name: "init",
  summary: "Create the MCPGatewayExtension for a Gateway listener (and an AuthPolicy with --auth-issuer)",
  usage:
    "gateway init --gateway NAMESPACE/NAME --listener LISTENER [--public-host HOST] [--auth-issuer URL] [options]",
  examples: [
    {
      comment: "Serve MCP on the mcp listener of gateway-system/mcp-gateway",
      command: "kubectl mcp gateway init --gateway gateway-system/mcp-gateway --listener mcp",
    },
    {
      comment: "With OAuth: JWT authentication and protected-resource metadata",
      command:
        "kubectl mcp gateway init --gateway gateway-system/mcp-gateway --listener mcp --public-host mcp.example.com --auth-issuer https://idp.example.com/realms/mcp",
    },
  ],
  flags: [
    {
      name: "name",
      type: "string",
      default: "mcp-gateway-extension",
      description: "Name of the MCPGatewayExtension.",
    },
    {
      name: "gateway",
      type: "string",
      description: "The Gateway to extend, as NAMESPACE/NAME.",
      complete: "gateway",
    },
    { name: "listener", type: "string", description: "The Gateway listener (sectionName) that serves MCP." },
    {
      name: "public-host",
      type: "string",
      description: "Host clients reach the gateway on, e.g. mcp.example.com.",
    },
    {
      name: "auth-issuer",
      type: "string",
      description: "OIDC issuer URL: adds an AuthPolicy and OAuth protected-resource metadata.",
    },
    ...SCAFFOLD_FLAGS,
  ],
  async run({ io, args, flags }) {
    if (args.length > 0) throw new UsageError(`gateway init takes no arguments, got "${args[0]}"`);
    const gateway = flags.string("gateway");
    const listener = flags.string("listener");
    if (!gateway) throw new UsageError("--gateway NAMESPACE/NAME is required");
    if (!listener) throw new UsageError("--listener is required: the Gateway listener that serves MCP");
    const ref = parseNamespacedName(gateway, "gateway");
    const objects = scaffoldGateway({
      name: flags.string("name"),
      namespace: flags.given("namespace") ? flags.string("namespace") : undefined,
      gateway: { name: ref.name, namespace: ref.namespace! },
      listener,
      publicHost: flags.string("public-host"),
      authIssuer: flags.string("auth-issuer"),
    });
    return await finishScaffold(io, objects, flags);
  },
};

/** The `gateway` verb group. */
export const gatewayCommand: Command = {
  name: "gateway",
  aliases: ["gateways", "mcpge"],
  summary: "Set up the MCP gateway on a Gateway listener",
  usage: "gateway <command> [options]",
  subcommands: [initCommand],
};
