/**
 * Flag parsing on top of `node:util` `parseArgs` (JSR's `@std/cli` is unreachable here), with the
 * flag sets kubectl users expect shared by every verb.
 *
 * @module
 */

import type { parseArgs as ParseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import type { Flags, FlagSpec } from "./command.ts";
import { DEFAULT_FIELD_MANAGER } from "../kube/field_manager.ts";
import { DEFAULT_REQUEST_TIMEOUT_MS } from "../kube/request_timeout.ts";

/** `-h, --help`, accepted by every command. */
export const HELP_FLAG: FlagSpec = {
  name: "help",
  short: "h",
  type: "boolean",
  description: "Help for this command.",
};

/** The kubeconfig flags kubectl has, for verbs that talk to a cluster. */
export const KUBE_FLAGS: readonly FlagSpec[] = [
  {
    name: "kubeconfig",
    type: "string",
    description: "Path to the kubeconfig file to use.",
    complete: "file",
  },
  {
    name: "context",
    type: "string",
    description: "The name of the kubeconfig context to use.",
    complete: "context",
  },
  {
    name: "cluster",
    type: "string",
    description: "The name of the kubeconfig cluster to use.",
    complete: "cluster",
  },
  { name: "user", type: "string", description: "The name of the kubeconfig user to use.", complete: "user" },
  {
    name: "namespace",
    short: "n",
    type: "string",
    description: "If present, the namespace scope for this request.",
    complete: "namespace",
  },
  {
    name: "request-timeout",
    type: "string",
    default: `${DEFAULT_REQUEST_TIMEOUT_MS / 1000}s`,
    description: "How long to wait for a single server request or an exec credential plugin, e.g. 5s, " +
      "1m; 0 waits forever. An open watch is not bounded by it (it reconnects when the server goes quiet).",
  },
];

/** `-A, --all-namespaces`. */
export const ALL_NAMESPACES_FLAG: FlagSpec = {
  name: "all-namespaces",
  short: "A",
  type: "boolean",
  description: "List the requested objects across all namespaces.",
};

/** `-f, --filename` and `-R, --recursive`, as in `kubectl apply`. */
export const FILENAME_FLAGS: readonly FlagSpec[] = [
  {
    name: "filename",
    short: "f",
    type: "string",
    multiple: true,
    description: "Files or directories of manifests, or - for standard input.",
    complete: "file",
  },
  {
    name: "recursive",
    short: "R",
    type: "boolean",
    description: "Process the directories given with -f recursively.",
  },
];

/** Builds the `-o, --output` flag for the formats a verb supports. */
export function outputFlag(formats: readonly string[], defaultFormat?: string): FlagSpec {
  return {
    name: "output",
    short: "o",
    type: "string",
    values: formats,
    default: defaultFormat,
    description: `Output format. One of: (${formats.join(", ")}).`,
  };
}

/** `--no-headers`, for table output. */
export const NO_HEADERS_FLAG: FlagSpec = {
  name: "no-headers",
  type: "boolean",
  description: "When using the default or wide output format, don't print headers.",
};

/** `--dry-run=none|client|server`, as in kubectl. */
export const DRY_RUN_FLAG: FlagSpec = {
  name: "dry-run",
  type: "string",
  values: ["none", "client", "server"],
  default: "none",
  description:
    'Must be "none", "client", or "server". With client, only print the object that would be sent.',
};

/** `--field-manager` and `--force-conflicts`, for verbs that server-side apply. */
export const FIELD_MANAGER_FLAGS: readonly FlagSpec[] = [
  {
    name: "field-manager",
    type: "string",
    default: DEFAULT_FIELD_MANAGER,
    description: "Name of the manager used to track field ownership.",
  },
  {
    name: "force-conflicts",
    type: "boolean",
    description: "If true, server-side apply will force the changes against conflicts.",
  },
];

/** Result of {@link parseFlags}. */
export interface ParsedCommandLine {
  /** Positional arguments in order. */
  args: string[];
  /** Parsed flags. */
  flags: Flags;
}

/**
 * Parses a command line against flag specifications. Unknown flags, missing values and values
 * outside a flag's allowed set are usage errors that name the flag, as kubectl's are.
 */
export function parseFlags(
  argv: readonly string[],
  specs: readonly FlagSpec[],
  commandLine: string,
): ParsedCommandLine {
  const options: ParseOptions = {};
  for (const spec of specs) {
    options[spec.name] = { type: spec.type, multiple: spec.multiple ?? false };
    if (spec.short) options[spec.name].short = spec.short;
  }
  let parsed;
  const negated = new Set<string>();
  try {
    const args = normalizeArgs(argv, specs, negated);
    parsed = parsePlainArgs(args, options) ?? nodeParseArgs()({
      args,
      options,
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(describeParseError(error), { hint: `See '${commandLine} --help' for usage.` });
  }
  const values = parsed.values as Record<string, string | boolean | (string | boolean)[] | undefined>;
  for (const spec of specs) {
    const value = values[spec.name];
    if (spec.values && value !== undefined) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === "string" && !spec.values.includes(item)) {
          throw new UsageError(
            `invalid argument "${item}" for "--${spec.name}" flag: must be one of: ${spec.values.join(", ")}`,
            { hint: `See '${commandLine} --help' for usage.` },
          );
        }
      }
    }
  }
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const flags: Flags = {
    string(name) {
      const value = values[name];
      if (Array.isArray(value)) return value.at(-1) as string | undefined;
      if (typeof value === "string") return value;
      const fallback = byName.get(name)?.default;
      return typeof fallback === "string" ? fallback : undefined;
    },
    boolean(name) {
      if (negated.has(name)) return false;
      const value = values[name];
      if (typeof value === "boolean") return value;
      return byName.get(name)?.default === true;
    },
    strings(name) {
      const value = values[name];
      if (value === undefined) return [];
      return (Array.isArray(value) ? value : [value]).map(String);
    },
    given(name) {
      return values[name] !== undefined || negated.has(name);
    },
  };
  return { args: parsed.positionals, flags };
}

/**
 * kubectl (pflag) accepts `--flag=true|false` for boolean flags and `-n=value` for short flags;
 * `parseArgs` does not, so rewrite them into forms it reads the same way. A boolean set to false
 * last goes into `negated` (so `--flag=false` turns off a flag that defaults to true).
 */
function normalizeArgs(argv: readonly string[], specs: readonly FlagSpec[], negated: Set<string>): string[] {
  const booleans = new Set(specs.filter((spec) => spec.type === "boolean").map((spec) => spec.name));
  const result: string[] = [];
  for (const [index, arg] of argv.entries()) {
    if (arg === "--") {
      result.push(...argv.slice(index));
      break;
    }
    const short = /^-([A-Za-z])=(.*)$/s.exec(arg);
    if (short) {
      result.push(`-${short[1]}`, short[2]);
      continue;
    }
    const match = /^--([^=]+)=(true|false)$/.exec(arg);
    if (match && booleans.has(match[1])) {
      if (match[2] === "true") {
        result.push(`--${match[1]}`);
        negated.delete(match[1]);
      } else {
        negated.add(match[1]);
      }
      continue;
    }
    const plain = /^--(.+)$/.exec(arg);
    if (plain && booleans.has(plain[1])) negated.delete(plain[1]);
    result.push(arg);
  }
  return result;
}

type ParseOptions = Record<string, { type: "boolean" | "string"; short?: string; multiple?: boolean }>;

/**
 * `node:util`, loaded on first use: any `node:` import starts Deno's Node compatibility layer, about
 * 30 ms of CPU that `--help` and the usual command line need not pay (see {@link parsePlainArgs}).
 */
function nodeParseArgs(): typeof ParseArgs {
  // A static import would load node:util at start-up; a dynamic one would make parseFlags async.
  // deno-lint-ignore no-process-global
  return (process.getBuiltinModule("node:util") as typeof import("node:util")).parseArgs;
}

/**
 * Parses the plain command lines (`--name`, `--name=value`, `--name value`, `-x`, `-x value`,
 * positionals, `--`) exactly as `parseArgs` with `strict` and `allowPositionals` does, and returns
 * undefined for anything else (unknown flags, missing or dash-led values, grouped short flags, a
 * value on a boolean), which `parseArgs` then parses or rejects with its own message.
 */
export function parsePlainArgs(
  args: readonly string[],
  options: ParseOptions,
): { values: Record<string, string | boolean | (string | boolean)[]>; positionals: string[] } | undefined {
  const values: Record<string, string | boolean | (string | boolean)[]> = Object.create(null);
  const positionals: string[] = [];
  const known = (name: string) => Object.hasOwn(options, name) ? options[name] : undefined;
  const byShort = (short: string) => Object.keys(options).find((name) => options[name].short === short);
  for (let index = 0; index < args.length; index++) {
    const arg = args[index];
    if (arg === "--") {
      positionals.push(...args.slice(index + 1));
      break;
    }
    if (arg.length < 2 || arg[0] !== "-") {
      positionals.push(arg);
      continue;
    }
    let name: string | undefined;
    let value: string | boolean | undefined;
    if (arg.startsWith("--")) {
      const equals = arg.indexOf("=");
      name = equals < 0 ? arg.slice(2) : arg.slice(2, equals);
      if (equals >= 0) {
        if (known(name)?.type !== "string") return undefined;
        value = arg.slice(equals + 1);
      }
    } else if (arg.length === 2) {
      name = byShort(arg[1]);
    } else {
      return undefined;
    }
    const option = name === undefined || name === "__proto__" ? undefined : known(name);
    if (!option || name === undefined) return undefined;
    if (value === undefined) {
      if (option.type === "boolean") {
        value = true;
      } else {
        const next = args[index + 1];
        if (next === undefined || next.startsWith("-")) return undefined;
        value = next;
        index++;
      }
    }
    if (option.multiple) {
      const list = values[name];
      if (Array.isArray(list)) list.push(value);
      else values[name] = [value];
    } else {
      values[name] = value;
    }
  }
  return { values, positionals };
}

function describeParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string }).code;
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION" && unknown) return `unknown flag: ${unknown[1]}`;
  const missing = /Option '([^']+)' argument missing/.exec(message);
  if (missing) return `flag needs an argument: ${missing[1].split(", ").at(-1)?.replace(/ <value>$/, "")}`;
  const noValue = /Option '([^']+)' does not take an argument/.exec(message);
  if (noValue) return `flag does not take a value: ${noValue[1].split(", ").at(-1)}`;
  return message.replace(/^./, (c) => c.toLowerCase()).replace(/\.$/, "");
}

/** How `simulate` evaluates AuthPolicies where this machine differs from the cluster. */
export const AUTH_POLICY_FLAGS: readonly FlagSpec[] = [
  {
    name: "unsupported-rules",
    type: "string",
    values: ["deny", "allow"],
    default: "deny",
    description: "What an AuthPolicy rule the simulator cannot evaluate here decides (opa without the " +
      "opa binary, metadata sources, x509, ...; each is listed at start-up): deny (default: the " +
      "cluster evaluates that rule, so letting the request through could show access the cluster " +
      "refuses) or allow (try the rest of the policy as if the rule passed).",
  },
  {
    name: "issuer-override",
    type: "string",
    multiple: true,
    description: "Point the AuthPolicies' jwt issuerUrl OLD at another issuer, as OLD=NEW (repeatable): " +
      "discovery and keys come from NEW, tokens still carry OLD as iss. Issuers that are cluster " +
      "Services are port-forwarded without it.",
  },
  {
    name: "opa",
    type: "string",
    description: "The opa binary that evaluates AuthPolicy opa rules (rego); default: opa on PATH.",
    complete: "file",
  },
];
