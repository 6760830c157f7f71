#!/usr/bin/env -S deno run -A
/**
 * `kubectl_complete-mcp`: the executable kubectl runs to complete `kubectl mcp ...`. kubectl calls it
 * with the words after `mcp`, the last being the word under completion
 * (`kubectl_complete-mcp tools -o ""`); Cobra's own `__complete` and `__completeNoDesc` forms are
 * accepted too. It must never fail loudly, since a shell is waiting.
 *
 * @module
 */

import { complete, formatCompletion } from "./complete.ts";
import { processIo } from "./io.ts";

if (import.meta.main) {
  let words = [...Deno.args];
  let descriptions = true;
  if (words[0] === "__complete" || words[0] === "__completeNoDesc") {
    descriptions = words[0] === "__complete";
    words = words.slice(1);
  }
  const io = processIo(new AbortController().signal);
  const completion = await complete(words.length ? words : [""], io);
  if (!descriptions) { for (const candidate of completion.candidates) delete candidate.description; }
  io.out(formatCompletion(completion));
}
