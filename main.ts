#!/usr/bin/env -S deno run -A
/**
 * `kubectl-mcp`: the kubectl plugin binary. kubectl runs it for `kubectl mcp ...`.
 *
 * @module
 */

import { runCommandLine } from "./src/cli/mod.ts";
import { processIo } from "./src/cli/io.ts";
import { Interrupts } from "./src/cli/signals.ts";
import { exitCodeOf, formatError } from "./src/errors.ts";
import { redactHeaderValues } from "./sim/redact.ts";

/**
 * Runs the plugin with the process's arguments and returns the exit code. SIGINT or SIGTERM ends
 * any verb: it is given a second to stop (a second signal ends it at once), and the code is then
 * 130 or 143 whatever the verb did, with nothing more printed, as when kubectl is interrupted.
 */
export async function main(argv: readonly string[] = Deno.args): Promise<number> {
  using interrupts = new Interrupts();
  const io = processIo(interrupts.signal);
  try {
    return await interrupts.run(runCommandLine(argv, io));
  } catch (error) {
    const debug = Boolean(Deno.env.get("KUBECTL_MCP_DEBUG")) && error instanceof Error;
    if (interrupts.received) {
      if (debug) io.err(`${interrupts.received.message}\n`);
      return interrupts.received.exitCode;
    }
    io.err(formatError(error) + "\n");
    if (debug) io.err(`${redactHeaderValues((error as Error).stack ?? "")}\n`);
    return exitCodeOf(error);
  }
}

if (import.meta.main) {
  // Exiting also ends what a verb left running after a signal (a read of a FIFO, a silent socket).
  Deno.exit(await main());
}
