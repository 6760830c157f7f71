/**
 * `kubectl mcp version`: the plugin's version, and the Deno and MCP protocol versions it speaks.
 *
 * @module
 */

import denoConfig from "../../deno.json" with { type: "json" };
// @ts-types="@modelcontextprotocol/sdk/types"
import { LATEST_PROTOCOL_VERSION, SUPPORTED_PROTOCOL_VERSIONS } from "@modelcontextprotocol/sdk/types.js";
import type { Command } from "./command.ts";
import { outputFlag } from "./flags.ts";
import { formatJson, formatYaml } from "../print/mod.ts";

/** The plugin's version, from deno.json. */
export const VERSION: string = denoConfig.version;

/** Version facts printed by `kubectl mcp version`. */
export interface VersionInfo {
  /** kubectl-mcp's own version. */
  pluginVersion: string;
  /** The Deno runtime running the plugin. */
  denoVersion: string;
  /** MCP protocol versions the plugin and its simulator accept, newest first. */
  mcpProtocolVersions: string[];
}

/** Collects the facts `version` prints. */
export function versionInfo(): VersionInfo {
  // The SDK lists the latest first; keep that order and make sure the latest is there.
  const versions: string[] = [...new Set<string>([LATEST_PROTOCOL_VERSION, ...SUPPORTED_PROTOCOL_VERSIONS])];
  return { pluginVersion: VERSION, denoVersion: Deno.version.deno, mcpProtocolVersions: versions };
}

/** The `version` verb. */
export const versionCommand: Command = {
  name: "version",
  summary: "Print the kubectl-mcp version",
  usage: "version [-o json|yaml]",
  flags: [outputFlag(["json", "yaml"])],
  run({ io, flags }) {
    const info = versionInfo();
    const output = flags.string("output");
    if (output === "json") io.out(formatJson([info]));
    else if (output === "yaml") io.out(formatYaml([info]));
    else {
      io.out(`kubectl-mcp version: v${info.pluginVersion}\n`);
      io.out(`Deno version: ${info.denoVersion}\n`);
      io.out(`MCP protocol versions: ${info.mcpProtocolVersions.join(", ")}\n`);
    }
    return Promise.resolve(0);
  },
};
