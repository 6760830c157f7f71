/**
 * Shell completion the kubectl way. kubectl (1.26+) completes `kubectl mcp ...` by running the
 * executable `kubectl_complete-mcp __complete <args> <partial word>` and reading Cobra's protocol:
 * one candidate per line (`value<TAB>description`), then `:<directive>`.
 *
 * @module
 */

import {
  type ArgSpec,
  type Candidate,
  type Command,
  type CompletionSource,
  type Flags,
  type FlagSpec,
  loaded,
} from "./command.ts";
import { HELP_FLAG, parseFlags } from "./flags.ts";
import type { Io } from "./io.ts";
import { ROOT } from "./mod.ts";

/** Cobra's ShellCompDirective bits. */
export const Directive = {
  /** Let the shell also complete file names. */
  Default: 0,
  /** An error occurred; show nothing. */
  Error: 1,
  /** Do not add a space after the completion. */
  NoSpace: 2,
  /** Do not fall back to file names. */
  NoFileComp: 4,
  /** Complete directory names only. */
  FilterDirs: 16,
} as const;

/** What completion answers: candidates and the directive. */
export interface Completion {
  /** Candidates, already filtered by the partial word. */
  candidates: Candidate[];
  /** Cobra directive bits. */
  directive: number;
}

/** Computes completions for `words`, whose last element is the partial word being completed. */
export async function complete(words: readonly string[], io: Io, root: Command = ROOT): Promise<Completion> {
  const partial = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  // Walk sub-verbs without failing on unknown words: completion must never error out.
  let command = root;
  let index = 0;
  while (index < before.length && command.subcommands?.length) {
    const next = command.subcommands.find((sub) =>
      sub.name === before[index] || sub.aliases?.includes(before[index])
    );
    if (!next) break;
    command = await loaded(next);
    index++;
  }
  const specs = [...(command.flags ?? []), HELP_FLAG];
  const rest = before.slice(index);
  // A value for the flag just before the partial word (`-n <TAB>`) or inside it (`--output=<TAB>`).
  const previous = rest.at(-1);
  const pendingFlag = previous ? flagExpectingValue(previous, specs) : undefined;
  // The other flags (`-f FILE`, `--kubeconfig`) tell providers where to look.
  const flags = parseQuietly(pendingFlag ? rest.slice(0, -1) : rest, specs);
  if (pendingFlag) return await valuesFor(pendingFlag, partial, "", flags, io);
  const inline = /^(--?[^=]+)=(.*)$/s.exec(partial);
  if (inline) {
    const spec = findFlag(inline[1], specs);
    if (spec && spec.type === "string") return await valuesFor(spec, inline[2], `${inline[1]}=`, flags, io);
  }

  if (partial.startsWith("-")) {
    const candidates: Candidate[] = [];
    for (const spec of specs) {
      candidates.push({ value: `--${spec.name}`, description: spec.description });
      if (spec.short) candidates.push({ value: `-${spec.short}`, description: spec.description });
    }
    return { candidates: filter(candidates, partial), directive: Directive.NoFileComp };
  }

  if (command.subcommands?.length) {
    const candidates = command.subcommands.map((sub) => ({ value: sub.name, description: sub.summary }));
    return { candidates: filter(candidates, partial), directive: Directive.NoFileComp };
  }

  const position = positionalCount(rest, specs);
  const arg: ArgSpec | undefined = command.args?.[Math.min(position, (command.args?.length ?? 1) - 1)];
  if (!arg) return { candidates: [], directive: Directive.NoFileComp };
  if (arg.values) {
    return {
      candidates: filter(arg.values.map((value) => ({ value })), partial),
      directive: Directive.NoFileComp,
    };
  }
  if (arg.complete) return await fromSource(arg.complete, partial, "", flags, io);
  return { candidates: [], directive: Directive.NoFileComp };
}

async function valuesFor(
  spec: FlagSpec,
  partial: string,
  prefix: string,
  flags: Flags,
  io: Io,
): Promise<Completion> {
  if (spec.values) {
    const candidates = spec.values.map((value) => ({ value: prefix + value }));
    return { candidates: filter(candidates, prefix + partial), directive: Directive.NoFileComp };
  }
  if (spec.complete) return await fromSource(spec.complete, partial, prefix, flags, io);
  return { candidates: [], directive: Directive.NoFileComp };
}

async function fromSource(
  source: CompletionSource,
  partial: string,
  prefix: string,
  flags: Flags,
  io: Io,
): Promise<Completion> {
  if (source === "file") return { candidates: [], directive: Directive.Default };
  if (source === "dir") return { candidates: [], directive: Directive.FilterDirs };
  // Providers are loaded only when a value is to be looked up. Every one is asked, in this order; the
  // first answer for a value wins.
  const [local, cluster] = await Promise.all([
    import("./completion_sources.ts"),
    import("../kube/completion.ts"),
  ]);
  const providers = [local.kubeconfigNames, local.manifestNames, cluster.clusterNames];
  const seen = new Map<string, Candidate>();
  for (const provider of providers) {
    try {
      for (const candidate of await provider(source, { flags, io })) {
        if (!seen.has(candidate.value)) seen.set(candidate.value, candidate);
      }
    } catch {
      // A provider that cannot answer (no cluster, unreadable file) must not break completion.
    }
  }
  const candidates = [...seen.values()].map((c) => ({ ...c, value: prefix + c.value }));
  return { candidates: filter(candidates, prefix + partial), directive: Directive.NoFileComp };
}

function filter(candidates: Candidate[], partial: string): Candidate[] {
  return candidates.filter((candidate) => candidate.value.startsWith(partial));
}

function findFlag(word: string, specs: readonly FlagSpec[]): FlagSpec | undefined {
  if (word.startsWith("--")) return specs.find((spec) => spec.name === word.slice(2));
  if (word.startsWith("-") && word.length === 2) return specs.find((spec) => spec.short === word.slice(1));
  return undefined;
}

function flagExpectingValue(word: string, specs: readonly FlagSpec[]): FlagSpec | undefined {
  if (word.includes("=")) return undefined;
  const spec = findFlag(word, specs);
  return spec?.type === "string" ? spec : undefined;
}

function positionalCount(words: readonly string[], specs: readonly FlagSpec[]): number {
  let count = 0;
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (word.startsWith("-")) {
      if (flagExpectingValue(word, specs)) i++;
      continue;
    }
    count++;
  }
  return count;
}

function parseQuietly(words: readonly string[], specs: readonly FlagSpec[]): Flags {
  try {
    return parseFlags(words, specs, "").flags;
  } catch {
    return parseFlags([], specs, "").flags;
  }
}

/** Formats a completion in Cobra's protocol. */
export function formatCompletion(completion: Completion): string {
  const lines = completion.candidates.map((c) => (c.description ? `${c.value}\t${c.description}` : c.value));
  return [...lines, `:${completion.directive}`].join("\n") + "\n";
}
