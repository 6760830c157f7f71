import { assertEquals } from "../../test/helpers/assert.ts";
import { formatName, formatTable, humanDuration } from "./mod.ts";

Deno.test("humanDuration matches kubectl's AGE column", () => {
  const s = 1000;
  assertEquals(humanDuration(45 * s), "45s");
  assertEquals(humanDuration(119 * s), "119s");
  assertEquals(humanDuration(5 * 60 * s + 30 * s), "5m30s");
  assertEquals(humanDuration(90 * 60 * s), "90m");
  assertEquals(humanDuration(5 * 3600 * s + 20 * 60 * s), "5h20m");
  assertEquals(humanDuration(30 * 3600 * s), "30h");
  assertEquals(humanDuration(3 * 86400 * s + 4 * 3600 * s), "3d4h");
  assertEquals(humanDuration(100 * 86400 * s), "100d");
});

Deno.test("formatTable aligns columns, upper-cases headers, hides wide columns, marks empty cells", () => {
  const rows = [{ a: "x", b: "", c: "wide" }, { a: "longer", b: "2", c: "w" }];
  const columns = [
    { header: "Name", value: (r: typeof rows[0]) => r.a },
    { header: "Count", value: (r: typeof rows[0]) => r.b },
    { header: "Extra", value: (r: typeof rows[0]) => r.c, wide: true },
  ];
  assertEquals(formatTable(columns, rows), "NAME     COUNT\nx        <none>\nlonger   2\n");
  assertEquals(
    formatTable(columns, rows, { wide: true, noHeaders: true }).split("\n")[0],
    "x        <none>   wide",
  );
  assertEquals(formatTable(columns, []), "");
});

Deno.test("formatName is kind.group/name, without a group for the core group", () => {
  assertEquals(
    formatName({ apiVersion: "mcp.kuadrant.io/v1", kind: "MCPServerRegistration", metadata: { name: "a" } }),
    "mcpserverregistration.mcp.kuadrant.io/a",
  );
  assertEquals(formatName({ apiVersion: "v1", kind: "Secret", metadata: { name: "s" } }), "secret/s");
});

Deno.test("formatTable prints 200,000 rows (no spread of the rows into Math.max)", () => {
  const rows = Array.from({ length: 200_000 }, (_, i) => ({ name: `n${i}` }));
  const lines = formatTable([{ header: "Name", value: (r: typeof rows[0]) => r.name }], rows).split("\n");
  assertEquals(lines.length, 200_002);
  assertEquals(lines[200_000], "n199999");
});
