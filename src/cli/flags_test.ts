import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { UsageError } from "../errors.ts";
import type { FlagSpec } from "./command.ts";
import { parseFlags } from "./flags.ts";
import { complete } from "./complete.ts";
import { captureIo } from "./io.ts";
import { ROOT } from "./mod.ts";

const SPECS: FlagSpec[] = [
  { name: "namespace", short: "n", type: "string", description: "" },
  { name: "output", short: "o", type: "string", values: ["json", "yaml"], description: "" },
  { name: "watch", short: "w", type: "boolean", description: "" },
  { name: "tool", type: "string", multiple: true, description: "" },
  { name: "discovery", type: "boolean", default: true, description: "" },
];

Deno.test("parseFlags reads kubectl's forms: -n x, -n=x, --namespace=x, --watch=false, repeats", () => {
  for (const form of [["-n", "x"], ["-n=x"], ["--namespace=x"], ["--namespace", "x"], ["-nx"]]) {
    assertEquals(parseFlags(form, SPECS, "t").flags.string("namespace"), "x", form.join(" "));
  }
  assertEquals(parseFlags(["--watch=false"], SPECS, "t").flags.boolean("watch"), false);
  assertEquals(parseFlags(["--watch=true"], SPECS, "t").flags.boolean("watch"), true);
  // A boolean that defaults to true is turned off by =false; the last form given wins.
  const discovery = (argv: string[]) => parseFlags(argv, SPECS, "t").flags.boolean("discovery");
  assertEquals([discovery([]), discovery(["--discovery=false"]), discovery(["--discovery"])], [
    true,
    false,
    true,
  ]);
  assertEquals([
    discovery(["--discovery=false", "--discovery"]),
    discovery(["--discovery", "--discovery=false"]),
  ], [
    true,
    false,
  ]);
  assertEquals(parseFlags(["--tool", "a", "--tool=b"], SPECS, "t").flags.strings("tool"), ["a", "b"]);
  assertEquals(parseFlags(["pos", "--", "-not-a-flag"], SPECS, "t").args, ["pos", "-not-a-flag"]);
});

Deno.test("parseFlags errors name the flag", () => {
  assertThrows(() => parseFlags(["--nope"], SPECS, "t"), UsageError, "unknown flag: --nope");
  assertThrows(() => parseFlags(["-n"], SPECS, "t"), UsageError, "flag needs an argument: --namespace");
  assertThrows(
    () => parseFlags(["-o", "xml"], SPECS, "t"),
    UsageError,
    'invalid argument "xml" for "--output"',
  );
});

Deno.test("completion offers verbs, sub-verbs, flags and flag values", async () => {
  const io = captureIo();
  const values = async (words: string[]) => (await complete(words, io, ROOT)).candidates.map((c) => c.value);
  assertEquals(await values(["re"]), ["register"]);
  assertEquals(await values(["virtual-server", ""]), ["create"]);
  assertEquals(await values(["tools", "--virt"]), ["--virtual-server"]);
  assertEquals(await values(["tools", "-o", ""]), ["wide", "json", "yaml", "name"]);
  assertEquals(await values(["register", "x", "--dry-run="]), [
    "--dry-run=none",
    "--dry-run=client",
    "--dry-run=server",
  ]);
});
