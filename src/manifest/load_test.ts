import { assert, assertEquals, assertRejects } from "../../test/helpers/assert.ts";
import { InputError } from "../errors.ts";
import { KEEP_TREES_MAX_CHARS, loadManifests, parseManifests } from "./load.ts";
import { aliasBomb } from "../../test/fixtures/alias_bomb.ts";

const TEXT = `# comment
apiVersion: mcp.kuadrant.io/v1
kind: MCPVirtualServer
metadata:
  name: vs
spec:
  tools:
    - a_one
    - a_two
---
---
kind: List
apiVersion: v1
items:
  - kind: Secret
    metadata: {name: s}
`;

Deno.test("parseManifests keeps positions of values, keys and missing fields", () => {
  const docs = parseManifests(TEXT, "f.yaml");
  assertEquals(docs.length, 2);
  const [vs, secret] = docs;
  assertEquals(vs.positionOf(["spec", "tools", 1]), { line: 9, column: 7 });
  assertEquals(vs.positionOf(["metadata", "name"]), { line: 5, column: 9 });
  assertEquals(vs.positionOf(["metadata", "name"], { key: true }), { line: 5, column: 3 });
  assertEquals(vs.positionOf(["spec"]), { line: 6, column: 1 });
  assertEquals(vs.positionOf(["spec", "description"]), { line: 6, column: 1 });
  assertEquals(secret.listIndex, 0);
  assertEquals(secret.index, 2);
  assertEquals(secret.positionOf(["metadata", "name"]), { line: 16, column: 22 });
});

Deno.test("parseManifests turns syntax errors into problems and goes on", () => {
  const docs = parseManifests("a: [\n---\nkind: Secret\n", "f.yaml");
  assertEquals(docs.length, 2);
  assertEquals(docs[0].object, undefined);
  assertEquals(docs[0].problems[0].code, "yaml.syntax");
  assertEquals((docs[1].object as { kind: string }).kind, "Secret");
});

Deno.test("parseManifests reads YAML 1.1 booleans the way kubectl does", () => {
  const [doc] = parseManifests("a: on\nb: yes\nc: 'on'\n", "f.yaml");
  assertEquals(doc.object, { a: true, b: true, c: "on" });
});

Deno.test("parseManifests reads JSON with positions", () => {
  const [doc] = parseManifests('{\n  "kind": "Secret",\n  "metadata": {"name": "s"}\n}\n', "f.json");
  assertEquals(doc.positionOf(["metadata", "name"]), { line: 3, column: 24 });
});

Deno.test("loadManifests reads stdin, files and directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/a.yaml`, "kind: Secret\n");
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/b.json`, '{"kind": "Secret"}');
    await Deno.writeTextFile(`${dir}/notes.txt`, "ignored");
    assertEquals((await loadManifests([dir])).length, 1);
    assertEquals((await loadManifests([dir], { recursive: true })).map((d) => d.source), [
      `${dir}/a.yaml`,
      `${dir}/sub/b.json`,
    ]);
    const stdin = new Blob(["kind: A\n---\nkind: B\n"]).stream();
    const docs = await loadManifests(["-"], { stdin });
    assertEquals(docs.map((d) => d.source), ["-", "-"]);
    await assertRejects(() => loadManifests([`${dir}/missing.yaml`]), InputError);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("empty documents are skipped", () => {
  assert(parseManifests("# only a comment\n", "f").length === 0);
  assert(parseManifests("---\n---\n", "f").length === 0);
});

Deno.test("positions in later documents count from the start of the file", () => {
  const text = [
    "# head",
    "%YAML 1.1",
    "---",
    "kind: A",
    "...",
    "# between",
    "%TAG !e! tag:example.com,2000:",
    "--- ",
    "kind: B",
    "metadata:",
    "  name: !e!n bee",
    "---",
    "kind: List",
    "items:",
    "  - kind: C",
    "    metadata: {name: cee}",
    "",
  ].join("\n");
  // A small source keeps its trees; past KEEP_TREES_MAX_CHARS (a long comment at the end) each
  // document is composed again from its own part of the text. Both give the same positions.
  for (const source of [text, `${text}# ${"x".repeat(KEEP_TREES_MAX_CHARS)}\n`]) {
    const [a, b, c] = parseManifests(source, "f.yaml");
    assertEquals(a.positionOf(["kind"]), { line: 4, column: 7 });
    // A tagged value starts after its tag.
    assertEquals(b.positionOf(["metadata", "name"]), { line: 11, column: 14 });
    assertEquals(b.positionOf(["metadata", "name"], { key: true }), { line: 11, column: 3 });
    assertEquals(c.positionOf(["metadata", "name"]), { line: 16, column: 22 });
    assertEquals([a.index, b.index, c.index], [0, 1, 2]);
  }
});

Deno.test("an alias bomb is a problem of its document, and the next document is still read", () => {
  const docs = parseManifests(`kind: First\n---\n${aliasBomb()}---\nkind: Last\n`, "bomb.yaml");
  assertEquals(docs.length, 3);
  assertEquals(docs[1].object, undefined);
  assertEquals(docs[1].problems.map((p) => [p.code, p.line]), [["yaml.limit", 3]]);
  assert(docs[1].problems[0].message.includes("aliases"), docs[1].problems[0].message);
  assertEquals((docs[2].object as { kind: string }).kind, "Last");
});

Deno.test("a document nested too deeply to read is one problem, not a stack overflow", () => {
  const depth = 20_000;
  const docs = parseManifests(
    `kind: A\ndata: ${"[".repeat(depth)}${"]".repeat(depth)}\n---\nkind: B\n`,
    "deep.yaml",
  );
  assertEquals(docs[0].problems.map((p) => p.code), ["yaml.limit"]);
  assertEquals(docs[0].problems[0].message, "The document nests too deeply to be read");
  assertEquals((docs[1].object as { kind: string }).kind, "B");
});

Deno.test("loadManifests stops reading when its signal aborts", async () => {
  const abort = new AbortController();
  const reason = new Error("interrupted");
  // A stream that never ends, like a terminal or a FIFO nobody writes to.
  const stdin = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
  const loading = loadManifests(["-"], { stdin, signal: abort.signal });
  abort.abort(reason);
  await assertRejects(() => loading, Error, "interrupted");
});
