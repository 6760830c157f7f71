/**
 * `kubectl mcp migrate -f FILE [-i]`: rewrite article-era manifests (`mcp.kuadrant.io/v1alpha1`,
 * `toolPrefix`) for the current API, keeping comments and formatting.
 *
 * @module
 */

import type { Command } from "./command.ts";
import { InputError, UsageError } from "../errors.ts";
import { migrateText } from "../migrate/mod.ts";

/** The `migrate` verb. */
export const migrateCommand: Command = {
  name: "migrate",
  summary: "Rewrite v1alpha1 manifests (toolPrefix) for mcp.kuadrant.io/v1",
  description:
    "Change apiVersion mcp.kuadrant.io/v1alpha1 to mcp.kuadrant.io/v1 and rename spec.toolPrefix to " +
    "spec.prefix, keeping comments, quoting and layout. Prints the result, or rewrites the files with -i. " +
    "Each change is reported on standard error.",
  usage: "migrate -f FILENAME [-i]",
  examples: [
    { comment: "Show the migrated manifest", command: "kubectl mcp migrate -f github-mcp.yaml" },
    { comment: "Migrate files in place", command: "kubectl mcp migrate -f a.yaml -f b.yaml -i" },
  ],
  flags: [
    {
      name: "filename",
      short: "f",
      type: "string",
      multiple: true,
      description: "Manifest files to migrate, or - for standard input.",
      complete: "file",
    },
    { name: "in-place", short: "i", type: "boolean", description: "Rewrite the files instead of printing." },
  ],
  async run({ io, flags, args }) {
    if (args.length) {
      throw new UsageError(`unexpected argument "${args[0]}"`, { hint: "Give manifests with -f." });
    }
    const sources = flags.strings("filename");
    if (sources.length === 0) {
      throw new UsageError("must specify -f", { hint: "See 'kubectl mcp migrate --help' for usage." });
    }
    const inPlace = flags.boolean("in-place");
    if (inPlace && sources.includes("-")) throw new UsageError("cannot migrate standard input in place (-i)");
    for (const source of sources) {
      let text: string;
      try {
        text = source === "-" ? await new Response(io.stdin).text() : await Deno.readTextFile(source);
      } catch (error) {
        throw new InputError(`cannot read "${source}": ${(error as Error).message}`, { cause: error });
      }
      const { text: migrated, changes } = migrateText(text);
      for (const change of changes) {
        io.err(
          `${source}:${change.line}:${change.column}: ${
            change.applied ? "" : "warning: "
          }${change.message}\n`,
        );
      }
      if (inPlace) {
        if (changes.some((c) => c.applied)) await Deno.writeTextFile(source, migrated);
        io.err(`${source}: ${changes.filter((c) => c.applied).length} change(s)\n`);
      } else {
        io.out(migrated);
      }
    }
  },
};
