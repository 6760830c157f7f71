/**
 * The MCP gateway resource types as `kubectl mcp get|delete` name them, their printer columns
 * (from the CRD model, evaluated locally with the subset of JSONPath CRD columns use), and the
 * glue from a verb's flags to a {@link KubeClient}.
 *
 * @module
 */

import type { Flags } from "../cli/command.ts";
import type { Io } from "../cli/io.ts";
import { UsageError } from "../errors.ts";
import {
  type CrdDefinition,
  GROUP,
  type PrinterColumn,
  serverRegistrationCrd,
  VERSION,
} from "../model/crds.ts";
import { gatewayExtensionCrd, virtualServerCrd } from "../model/crds.ts";
import { age, type Column } from "../print/mod.ts";
import type { ConfigOptions } from "./config.ts";
import type { KubeClientOptions, KubeObject, ResourceInfo } from "./client.ts";

/** A resource type `get` and `delete` accept, with the words that name it. */
export interface McpResourceType {
  /** The CRD. */
  crd: CrdDefinition;
  /** Words accepted on the command line. */
  names: readonly string[];
}

/** The three types with kubectl-mcp's aliases, then the CRD's own plural, singular and short names. */
export const MCP_RESOURCE_TYPES: readonly McpResourceType[] = [
  {
    crd: serverRegistrationCrd,
    names: [
      "servers",
      "server",
      "registrations",
      "registration",
      "mcpsr",
      ...crdNames(serverRegistrationCrd),
    ],
  },
  {
    crd: virtualServerCrd,
    names: ["virtual-servers", "virtual-server", "mcpvs", ...crdNames(virtualServerCrd)],
  },
  {
    crd: gatewayExtensionCrd,
    names: [
      "gateways",
      "gateway",
      "gateway-extensions",
      "gateway-extension",
      "mcpge",
      ...crdNames(gatewayExtensionCrd),
    ],
  },
];

function crdNames(crd: CrdDefinition): string[] {
  return [crd.plural, crd.singular, crd.kind.toLowerCase(), `${crd.plural}.${crd.group}`];
}

/** The words offered for the TYPE argument of get and delete. */
export const RESOURCE_TYPE_WORDS: readonly string[] = ["servers", "virtual-servers", "gateways"];

/** Finds the type a word names; unknown words are usage errors. */
export function resourceTypeFor(word: string): McpResourceType {
  const lower = word.toLowerCase();
  const found = MCP_RESOURCE_TYPES.find((type) => type.names.includes(lower));
  if (!found) {
    throw new UsageError(`the server doesn't have a resource type "${word}"`, {
      hint: `kubectl mcp knows: servers (mcpsr), virtual-servers (mcpvs), gateways (mcpge).`,
    });
  }
  return found;
}

/**
 * The type named by a verb's first argument (`kubectl mcp get TYPE ...`), and the arguments after
 * it; no argument is the usage error kubectl gives.
 */
export function resourceTypeArg(
  args: readonly string[],
  verb: string,
): { type: McpResourceType; names: string[] } {
  if (args.length === 0) {
    throw new UsageError(`you must specify the type of resource to ${verb}`, {
      hint: "Types: servers (mcpsr), virtual-servers (mcpvs), gateways (mcpge).",
    });
  }
  return { type: resourceTypeFor(args[0]), names: args.slice(1) };
}

/** The {@link ResourceInfo} of a CRD in the served version, without asking discovery. */
export function resourceInfoOf(crd: CrdDefinition): ResourceInfo {
  return {
    group: crd.group,
    version: VERSION,
    kind: crd.kind,
    plural: crd.plural,
    singular: crd.singular,
    namespaced: crd.scope === "Namespaced",
    verbs: [],
    shortNames: crd.shortNames,
  };
}

/** kubectl's `kind.group` type name for messages, e.g. `mcpserverregistration.mcp.kuadrant.io`. */
export function typeName(info: Pick<ResourceInfo, "kind" | "group">): string {
  const kind = info.kind.toLowerCase();
  return info.group ? `${kind}.${info.group}` : kind;
}

/**
 * Connection options from the kubeconfig flags every live verb has, with the verb's Ctrl-C signal
 * so that every request and exec plugin of the client stops on it.
 */
export function configOptionsFromFlags(flags: Flags, io: Io): ConfigOptions & KubeClientOptions {
  return {
    signal: io.signal,
    kubeconfig: flags.string("kubeconfig"),
    context: flags.string("context"),
    cluster: flags.string("cluster"),
    user: flags.string("user"),
    namespace: flags.string("namespace"),
    requestTimeout: flags.string("request-timeout"),
    env: io.env,
  };
}

/**
 * Evaluates a CRD printer-column JSONPath (`.a.b`, `[0]`, `[*]`, `[?(@.k=='v')]`, and the
 * `.length()` some upstream CRDs use) and returns every match.
 */
export function evaluateJsonPath(path: string, object: unknown): unknown[] {
  let current: unknown[] = [object];
  const tokens = tokenize(path);
  for (const token of tokens) {
    const next: unknown[] = [];
    for (const value of current) {
      if (token.type === "field") {
        if (value && typeof value === "object" && !Array.isArray(value) && token.name in value) {
          next.push((value as Record<string, unknown>)[token.name]);
        }
      } else if (token.type === "length") {
        if (Array.isArray(value) || typeof value === "string") next.push(value.length);
        else if (value && typeof value === "object") next.push(Object.keys(value).length);
      } else if (Array.isArray(value)) {
        if (token.type === "index") {
          const item = value.at(token.index);
          if (item !== undefined) next.push(item);
        } else {
          // Item by item: spreading a long list into push() overflows the stack.
          for (const item of value) {
            if (token.type === "all" || matchesFilter(item, token.field, token.value)) next.push(item);
          }
        }
      }
    }
    current = next;
  }
  return current;
}

type Token =
  | { type: "field"; name: string }
  | { type: "index"; index: number }
  | { type: "all" }
  | { type: "length" }
  | { type: "filter"; field: string[]; value: string };

function tokenize(path: string): Token[] {
  const tokens: Token[] = [];
  let rest = path.trim().replace(/^\{|\}$/g, "").replace(/^\$/, "");
  while (rest.length) {
    let match;
    if ((match = /^\.length\(\)/.exec(rest))) tokens.push({ type: "length" });
    else if ((match = /^\.([A-Za-z0-9_-]+)/.exec(rest))) tokens.push({ type: "field", name: match[1] });
    else if ((match = /^\[(-?\d+)\]/.exec(rest))) tokens.push({ type: "index", index: Number(match[1]) });
    else if ((match = /^\[\*\]/.exec(rest))) tokens.push({ type: "all" });
    else if ((match = /^\[\?\(@((?:\.[A-Za-z0-9_-]+)+)\s*==\s*(?:'([^']*)'|"([^"]*)")\)\]/.exec(rest))) {
      tokens.push({ type: "filter", field: match[1].slice(1).split("."), value: match[2] ?? match[3] });
    } else if ((match = /^\['([^']+)'\]/.exec(rest))) tokens.push({ type: "field", name: match[1] });
    else throw new UsageError(`unsupported JSONPath ${path} at "${rest}"`);
    rest = rest.slice(match[0].length);
  }
  return tokens;
}

function matchesFilter(item: unknown, field: string[], value: string): boolean {
  let current = item;
  for (const name of field) {
    if (!current || typeof current !== "object") return false;
    current = (current as Record<string, unknown>)[name];
  }
  return String(current) === value;
}

/** One cell as the API server's table printer renders it: strings as is, lists as JSON, dates as ages. */
export function columnCell(column: PrinterColumn, object: unknown, now: number = Date.now()): string {
  const results = evaluateJsonPath(column.jsonPath, object);
  if (results.length === 0 || results[0] === undefined || results[0] === null) return "";
  const value = results[0];
  if (column.type === "date") return typeof value === "string" ? age(value, now) : "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Table columns for a CRD: NAME, the CRD's printer columns, and NAMESPACE first with `-A`. */
export function tableColumns(
  crd: CrdDefinition,
  options: { allNamespaces?: boolean; now?: number } = {},
): Column<KubeObject>[] {
  const version = crd.versions.find((v) => v.name === VERSION) ?? crd.versions[0];
  const columns: Column<KubeObject>[] = [];
  if (options.allNamespaces) columns.push({ header: "NAMESPACE", value: (o) => o.metadata?.namespace ?? "" });
  columns.push({ header: "NAME", value: (o) => o.metadata?.name ?? "" });
  for (const column of version.printerColumns) {
    columns.push({
      header: column.name,
      value: (o) => columnCell(column, o, options.now),
      wide: (column.priority ?? 0) > 0,
      // The API server's table printer leaves empty CRD cells blank; kubectl shows them so.
      empty: "",
    });
  }
  return columns;
}

/** The API group every MCP type lives in, re-exported for verbs. */
export const MCP_GROUP: string = GROUP;
