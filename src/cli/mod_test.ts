import { assertEquals } from "../../test/helpers/assert.ts";
import { loaded } from "./command.ts";
import { VERBS } from "./mod.ts";

Deno.test("every lazily listed verb has the name, summary and aliases of the verb it loads", async () => {
  for (const stub of VERBS) {
    const verb = await loaded(stub);
    assertEquals(
      { name: stub.name, summary: stub.summary, aliases: [...(stub.aliases ?? [])] },
      { name: verb.name, summary: verb.summary, aliases: [...(verb.aliases ?? [])] },
    );
    assertEquals(typeof verb.run === "function" || (verb.subcommands?.length ?? 0) > 0, true, stub.name);
  }
});
