#!/usr/bin/env -S deno run -A
/**
 * `kubectl-mcp`: the kubectl plugin binary. kubectl runs it for `kubectl mcp ...`.
 *
 * @module
 */

import { runCommandLine } from "./src/cli/mod.ts";
import { processIo } from "./src/cli/io.ts";
import { exitCodeOf, formatError } from "./src/errors.ts";
import { redactHeaderValues } from "./sim/redact.ts";

/** Runs the plugin with the process's arguments and exits with the verb's code. */
export async function main(argv: readonly string[] = Deno.args): Promise<number> {
  const interrupt = new AbortController();
  const onSignal = () => {
    // A second Ctrl-C while a verb is shutting down exits at once, as kubectl does.
    if (interrupt.signal.aborted) Deno.exit(130);
    interrupt.abort();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const io = processIo(interrupt.signal);
  try {
    return await runCommandLine(argv, io);
  } catch (error) {
    io.err(formatError(error) + "\n");
    if (Deno.env.get("KUBECTL_MCP_DEBUG") && error instanceof Error) {
      io.err(`${redactHeaderValues(error.stack ?? "")}\n`);
    }
    return exitCodeOf(error);
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  Deno.exit(await main());
}
