/**
 * Names the scaffolding derives: tool prefixes from registration names, and `namespace/name`
 * references.
 *
 * @module
 */

import { UsageError } from "../errors.ts";

/** The pattern the CRD enforces on `spec.prefix`. */
export const PREFIX_PATTERN: RegExp = /^[a-z0-9][a-z0-9_]*$/;

/** Suffixes that say nothing about a server's tools, dropped when a prefix is derived from a name. */
const NOISE_SUFFIXES = ["-mcp-server", "-mcp", "-server"];

/**
 * Derives a tool prefix from a registration name: `github-mcp` gives `github_`. The result matches
 * the CRD's pattern; words are joined with `_` and the prefix ends with `_` so tool names read well.
 */
export function prefixFromName(name: string): string {
  let base = name.toLowerCase();
  for (const suffix of NOISE_SUFFIXES) {
    if (base.endsWith(suffix) && base.length > suffix.length) {
      base = base.slice(0, -suffix.length);
      break;
    }
  }
  const words = base.replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
  if (words === "") {
    throw new UsageError(`cannot derive a tool prefix from the name "${name}"`, {
      hint: "Give one with --prefix (lower-case letters, digits and _, starting with a letter or digit).",
    });
  }
  return `${words}_`;
}

/** A `namespace/name` reference. */
export interface NamespacedName {
  /** The namespace, or undefined when the reference had none. */
  namespace?: string;
  /** The object's name. */
  name: string;
}

/** Parses `namespace/name` (or just `name` when `requireNamespace` is false) for the flag `flag`. */
export function parseNamespacedName(value: string, flag: string, requireNamespace = true): NamespacedName {
  const parts = value.split("/");
  if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], name: parts[1] };
  if (parts.length === 1 && parts[0] && !requireNamespace) return { name: parts[0] };
  const form = requireNamespace ? "NAMESPACE/NAME" : "NAME or NAMESPACE/NAME";
  throw new UsageError(`invalid value "${value}" for --${flag}: expected ${form}`);
}
