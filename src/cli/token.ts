/**
 * `kubectl mcp token --user NAME`: prints an access token from the dev identity provider of a
 * running `kubectl mcp simulate --dev-idp`, for curl and scripts. The provider is found through the
 * gateway (its protected-resource metadata), so only the gateway's URL is needed.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { outputFlag } from "./flags.ts";
import { UsageError } from "../errors.ts";
import { DEFAULT_GATEWAY_URL, fetchDevToken, readClaimsFile } from "../idp/mod.ts";
import { formatJson, formatYaml } from "../print/mod.ts";

/** The `token` verb. */
export const tokenCommand: Command = {
  name: "token",
  summary: "Print an access token from a running simulator's dev identity provider (simulate --dev-idp)",
  description: [
    "Print an access token for a user of the dev identity provider that `kubectl mcp simulate --dev-idp`",
    "runs, or for the claims of a file (any identity: a what-if). The token is a JWT signed by that",
    "provider, its aud the gateway's MCP resource, carrying the user's claims; the simulator's",
    "AuthPolicies accept it as they would a token of the issuer they name. The provider is found",
    "through the gateway's protected-resource metadata: give the gateway's URL with --gateway.",
  ].join("\n"),
  usage: "token (--user NAME | --claims FILE) [--gateway URL] [-o json|yaml]",
  examples: [
    {
      comment: "Call the simulator as alice with curl",
      command:
        'curl -H "Authorization: Bearer $(kubectl mcp token --user alice)" http://127.0.0.1:8080/mcp ...',
    },
    {
      comment: "A token with exactly these claims (YAML or JSON; sub names the subject)",
      command: "kubectl mcp token --claims claims.yaml --gateway http://127.0.0.1:9090/mcp",
    },
  ],
  flags: [
    {
      name: "user",
      type: "string",
      description: "The user of the dev identity provider (as its --users file names them; " +
        "default users: alice, bob).",
    },
    {
      name: "claims",
      type: "string",
      description: "A YAML or JSON file of claims: a token for that identity instead of a user.",
      complete: "file",
    },
    {
      name: "gateway",
      type: "string",
      default: DEFAULT_GATEWAY_URL,
      description: "The running simulator's MCP URL.",
    },
    {
      name: "ttl",
      type: "string",
      description: "Lifetime of the token in seconds (default the provider's, 3600).",
    },
    outputFlag(["json", "yaml"]),
  ],
  async run({ io, args, flags }) {
    if (args.length > 0) throw new UsageError(`token takes no arguments, got "${args[0]}"`);
    const user = flags.string("user");
    const claimsFile = flags.string("claims");
    if ((user === undefined) === (claimsFile === undefined)) {
      throw new UsageError("token needs one of --user NAME or --claims FILE");
    }
    const ttlText = flags.string("ttl");
    if (ttlText !== undefined && !/^[1-9]\d{0,4}$/.test(ttlText)) {
      throw new UsageError(`invalid value "${ttlText}" for --ttl: expected whole seconds, 1 to 86400`);
    }
    const token = await fetchDevToken({
      gateway: flags.string("gateway"),
      ...(user !== undefined ? { user } : { claims: await readClaimsFile(claimsFile!) }),
      ...(ttlText !== undefined ? { ttl: Number(ttlText) } : {}),
      signal: io.signal,
    });
    const output = flags.string("output");
    const document = {
      accessToken: token.token,
      tokenType: "Bearer",
      expiresIn: token.expiresIn,
      issuer: token.issuer,
      audience: token.resource,
    };
    if (output === "json") io.out(formatJson([document]));
    else if (output === "yaml") io.out(formatYaml([document]));
    else io.out(`${token.token}\n`);
    return 0;
  },
};
