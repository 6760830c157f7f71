import { assert, assertEquals } from "../../test/helpers/assert.ts";
import { generateManifests } from "../../bench/manifests.ts";
import {
  composeManifests,
  type FieldPath,
  KEEP_TREES_MAX_CHARS,
  type ManifestDocument,
  parseManifests,
} from "./load.ts";
import { parsePlainYaml } from "./plain_yaml.ts";

/** Every field path of a value (and one missing field below each object), values before children. */
function paths(value: unknown, prefix: FieldPath = [], out: FieldPath[] = []): FieldPath[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    value.forEach((item, i) => paths(item, [...prefix, i], out));
    out.push([...prefix, value.length]);
  } else if (value && typeof value === "object") {
    for (const [key, item] of Object.entries(value)) paths(item, [...prefix, key], out);
    out.push([...prefix, "missing", "deeper"]);
  }
  return out;
}

/** The plain reader's documents equal the package's: objects, indexes and every position. */
function assertSameAsPackage(text: string, label: string): ManifestDocument[] {
  const fast = parseManifests(text, "f.yaml");
  const slow = composeManifests(text, "f.yaml");
  const shape = (docs: ManifestDocument[]) =>
    docs.map(({ source, index, listIndex, object, problems }) => ({
      source,
      index,
      listIndex,
      object,
      problems,
    }));
  assertEquals(shape(fast), shape(slow), `${label}: documents differ`);
  fast.forEach((doc, i) => {
    for (const path of paths(doc.object)) {
      for (const key of [false, true]) {
        assertEquals(
          doc.positionOf(path, { key }),
          slow[i].positionOf(path, { key }),
          `${label}: document ${i} position of ${JSON.stringify(path)} (key: ${key})`,
        );
      }
    }
  });
  return fast;
}

/** Plain sources the reader must take (not hand to the package) and read as the package does. */
const PLAIN: Record<string, string> = {
  "mapping and sequences": "a: 1\nb:\n  - x\n  - y: 2\n    z: [p, q]\nc: {}\nd: []\n",
  "sequence at the key's column": "a:\n- x\n- y\nb: 2\n",
  "comments and blank lines": "# top\na: 1 # one\n\n  # indented comment\nb:   # empty\nc:\n\nd: 'x'\n",
  "YAML 1.1 scalars": "a: yes\nb: off\nc: 0777\nd: 1:20\ne: ~\nf: null\ng: .inf\nh: -0\ni: 1e3\nj: 0x1F\n" +
    "k: 1.5\nl: On\nm: n\nn: 12345678901234567890\no: +12\np: 0b101\nq: 190:20:30.15\nr: -.inf\n",
  "key scalars": "1: a\ntrue: b\nyes2: c\n0777: d\nfalse_: e\ne5: f\nNULLS: g\nnamespace: h\n",
  "words that are numbers or not":
    "a: e5\nb: E-3\nc: e\nd: 1_000\ne: 0o7\nf: Yes\ng: yes_\nh: Off\ni: offset\n" +
    "j: NULL\nk: nulls\nl: FALSE\nm: Falsey\nn: true1\n",
  "quoted": "a: \"x # y\"\nb: 'it''s'\nc: \"\"\nd: ''\ne: \"true\"   # c\nf: '8080'\n",
  "plain odds": "a: x:y\nb: http://h:80/p#f\nc: -x\nd: .x\ne: a b  c\nf: x#y\ng: <<\nh: =\n",
  "flow items": "a: [1, yes, ~, b c,  d ]\nb: [ ]\nc: {  }\n",
  "documents": "# lead\n---\na: 1\n---\n---\n# only a comment\n---   \nb: 2\n---\n",
  "no markers": "a: 1\n",
  "seq root": "- a\n- b: 1\n  c: 2\n-\n  d: 3\n",
  "compact maps": "- a:\n  - x\n  b:\n    c: 1\n-   e: 2\n    f: 3\n",
  "indented root": "  a: 1\n  b:\n    - 2\n",
  "list": "kind: List\napiVersion: v1\nitems:\n  - kind: Secret\n    metadata: {}\n  - kind: ConfigMap\n",
  "no final newline": "a: 1\nb: x",
  "trailing spaces": "a: 1   \nb:   \n  c: d  \n",
};

/** Sources the reader must hand to the package. */
const NOT_PLAIN: Record<string, string> = {
  "anchor": "a: &x 1\nb: *x\n",
  "tag": "a: !!str 1\n",
  "block scalar": "a: |\n  x\n",
  "multi-line plain": "a: x\n  y\n",
  "escape": 'a: "x\\ny"\n',
  "tab": "a:\t1\n",
  "duplicate key": "a: 1\na: 2\n",
  "merge key": "a: {}\n<<: {}\n",
  "timestamp": "a: 2001-12-14\n",
  "flow mapping": "a: {b: 1}\n",
  "nested flow": "a: [[1]]\n",
  "trailing comma": "a: [1,]\n",
  "quoted key": '"a": 1\n',
  "directive": "%YAML 1.1\n---\na: 1\n",
  "document end": "a: 1\n...\n",
  "bad indent": "a:\n    b: 1\n  c: 2\n",
  "pair in value": "a: b: c\n",
  "empty item": "- \n- a\n",
  "crlf": "a: 1\r\nb: 2\r\n",
  "content after marker": "--- a: 1\n",
  "scalar root": "hello\n",
  "json": '{"a": 1}\n',
  "proto key": "__proto__: 1\n",
  "null key": "~: 1\n",
};

Deno.test("the plain reader reads plain sources as the yaml package does", () => {
  for (const [label, text] of Object.entries(PLAIN)) {
    assert(parsePlainYaml(text), `${label}: the plain reader gave up`);
    assertSameAsPackage(text, label);
  }
});

Deno.test("the plain reader hands other sources to the yaml package", () => {
  for (const [label, text] of Object.entries(NOT_PLAIN)) {
    assertEquals(parsePlainYaml(text), undefined, `${label}: the plain reader took it`);
    assertSameAsPackage(text, label);
  }
});

Deno.test("the plain reader reads the benchmark's manifests and the repository's YAML as the package does", async () => {
  const bench = generateManifests(300).text;
  assert(parsePlainYaml(bench), "the benchmark's file is plain");
  assertSameAsPackage(bench, "bench");
  // Past KEEP_TREES_MAX_CHARS positions come from composing each document again from its part of the text.
  const large = `# lead\n${bench}# ${"x".repeat(KEEP_TREES_MAX_CHARS)}\n`;
  assert(parsePlainYaml(large), "the large file is plain");
  assertSameAsPackage(large, "bench past the limit");
  let files = 0;
  for (const dir of ["examples", "test/corpus", "crds", "src/model/vendored"]) {
    for await (const path of yamlFiles(new URL(`../../${dir}/`, import.meta.url).pathname)) {
      assertSameAsPackage(await Deno.readTextFile(path), path);
      files++;
    }
  }
  assert(files > 20, `only ${files} YAML files found`);
});

async function* yamlFiles(dir: string): AsyncGenerator<string> {
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}${entry.name}`;
    if (entry.isDirectory) yield* yamlFiles(`${path}/`);
    else if (/\.ya?ml$/.test(entry.name)) yield path;
  }
}
