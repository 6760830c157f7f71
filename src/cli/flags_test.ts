import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { UsageError } from "../errors.ts";
import type { FlagSpec } from "./command.ts";
import { parseFlags, parsePlainArgs } from "./flags.ts";
import { parseArgs } from "node:util";
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

Deno.test("parsePlainArgs reads every command line it accepts as node:util parseArgs does", () => {
  const options = {
    namespace: { type: "string", short: "n" },
    watch: { type: "boolean", short: "w" },
    tool: { type: "string", multiple: true },
    all: { type: "boolean", short: "A", multiple: true },
    help: { type: "boolean", short: "h" },
  } as const;
  const words = [
    "--namespace",
    "-n",
    "x",
    "-",
    "--",
    "--watch",
    "-w",
    "--tool",
    "--tool=",
    "--tool=a=b",
    "-A",
    "--all",
    "--help",
    "-h",
    "--nope",
    "-q",
    "-wA",
    "-nx",
    "--watch=true",
    "--namespace=-y",
    "pos",
    "-1",
    "",
  ];
  // A fixed linear congruential sequence: every run checks the same 5,000 command lines.
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) % words.length;
  let plain = 0;
  for (let round = 0; round < 5000; round++) {
    const args = Array.from({ length: round % 6 }, () => words[next()]);
    const fast = parsePlainArgs(args, options);
    if (!fast) continue;
    plain++;
    const node = parseArgs({ args, options, strict: true, allowPositionals: true });
    assertEquals(
      { values: { ...fast.values }, positionals: fast.positionals },
      { values: { ...node.values }, positionals: node.positionals },
      JSON.stringify(args),
    );
  }
  // Most lines of up to five of these words are plain; the rest went to parseArgs.
  assertEquals(plain > 1000, true, `${plain} plain command lines`);
});
