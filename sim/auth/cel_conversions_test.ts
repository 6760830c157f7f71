import { assertEquals } from "../../test/helpers/assert.ts";
import { requestJson } from "../../test/helpers/auth_guides.ts";
import { compileCel, evaluateExpression } from "./cel.ts";
import { fromCel } from "./cel_conversions.ts";

Deno.test("cel: expressions return JSON values", () => {
  const json = requestJson({
    path: "/a/b",
    headers: { "x-a": "1" },
    identity: { sub: "alice", groups: ["x", "y"] },
  });
  const value = (src: string) => evaluateExpression(compileCel(src, { kind: "expression" }), json);
  assertEquals(value("auth.identity.sub"), "alice");
  assertEquals(value("request.url_path.split('/')"), ["", "a", "b"]);
  assertEquals(value("size(auth.identity.groups)"), 2);
  assertEquals(value("{'user': auth.identity.sub, 'n': [1, 2u, 3.5]}"), { user: "alice", n: [1, 2, 3.5] });
  assertEquals(value("auth.identity"), { sub: "alice", groups: ["x", "y"] });
  assertEquals(value("auth.identity.groups.map(g, g.upperAscii())"), ["X", "Y"]);
});

Deno.test("cel conversions: durations, timestamps and bytes as cel-go writes them in JSON", () => {
  const duration = (seconds: bigint, nanos: number) => ({
    message: { $typeName: "google.protobuf.Duration", seconds, nanos },
  });
  const timestamp = (seconds: bigint, nanos: number) => ({
    message: { $typeName: "google.protobuf.Timestamp", seconds, nanos },
  });
  assertEquals(fromCel(duration(3600n, 0)), "3600s");
  assertEquals(fromCel(duration(1n, 500_000_000)), "1.5s");
  assertEquals(fromCel(timestamp(1_704_067_200n, 0)), "2024-01-01T00:00:00Z");
  // Go's RFC3339Nano: nanoseconds, trailing zeros dropped.
  assertEquals(fromCel(timestamp(1_704_067_200n, 120_000)), "2024-01-01T00:00:00.00012Z");
  assertEquals(fromCel(new Uint8Array([97, 98, 99])), "YWJj");
  assertEquals(fromCel(5n), 5);
  const plain = { a: [1] };
  assertEquals(fromCel(plain) === plain, true);
});
