#!/usr/bin/env -S deno run -A
/**
 * `kubectl_complete-mcp`: the executable kubectl runs to complete `kubectl mcp ...`. It answers
 * `__complete` (and Cobra's `__completeNoDesc`) and must never fail loudly, since a shell is waiting.
 *
 * @module
 */

import { complete, formatCompletion } from "./complete.ts";
import { processIo } from "./io.ts";
import "./completion_sources.ts";
import "../kube/completion.ts";

if (import.meta.main) {
  const [mode, ...words] = Deno.args;
  const io = processIo(new AbortController().signal);
  if (mode !== "__complete" && mode !== "__completeNoDesc") {
    io.err("kubectl_complete-mcp answers kubectl's __complete protocol; run it as 'kubectl mcp <TAB>'.\n");
    Deno.exit(2);
  }
  const completion = await complete(words.length ? words : [""], io);
  if (mode === "__completeNoDesc") {
    for (const candidate of completion.candidates) delete candidate.description;
  }
  io.out(formatCompletion(completion));
}
