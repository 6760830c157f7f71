import { assertEquals, assertThrows } from "../../test/helpers/assert.ts";
import { RecordHeaders } from "./headers.ts";

/** Everything a reader of `Headers` can observe, to compare the two implementations. */
function observe(h: Headers): unknown {
  const each: [string, string][] = [];
  h.forEach((value, name) => each.push([name, value]));
  const names = ["accept", "Authorization", "set-cookie", "x-mcp-toolname", "X-Two", "missing"];
  return {
    each,
    entries: [...h],
    keys: [...h.keys()],
    values: [...h.values()],
    get: names.map((n) => h.get(n)),
    has: names.map((n) => h.has(n)),
    cookies: h.getSetCookie(),
  };
}

const CLIENT: [string, string][] = [
  ["Authorization", "Bearer abc"],
  ["accept", "application/json"],
  ["x-two", "1"],
  ["X-Two", "2"],
  ["set-cookie", "a=1"],
  ["Set-Cookie", "b=2"],
  ["content-type", "application/json"],
];

Deno.test("RecordHeaders: a copy reads as the Headers it copies", () => {
  const real = new Headers(CLIENT);
  assertEquals(observe(RecordHeaders.from(real)), observe(new Headers(real)));
});

Deno.test("RecordHeaders: set, append and delete as Headers, values normalised", () => {
  const real = new Headers(CLIENT);
  const copy = RecordHeaders.from(real);
  const other = new Headers(real);
  for (const h of [copy, other] as Headers[]) {
    h.delete("X-TWO");
    h.set("x-mcp-toolname", "  echo\t");
    h.append("accept", "text/event-stream");
    h.append("x-new", "one");
    h.append("X-New", "two");
    h.set("set-cookie", "c=3");
    h.append("set-cookie", "d=4");
    h.set("Host", "slow.mcp.local");
  }
  assertEquals(observe(copy), observe(other));
  assertEquals(copy.get("x-new"), "one, two");
});

Deno.test("RecordHeaders: an invalid name or value throws TypeError as Headers does", () => {
  const bad: [string, string][] = [
    ["bad name", "v"],
    ["", "v"],
    ["x-ok", "line\nbreak"],
    ["x-ok", "nul\0"],
    ["x-ok", "carriage\rreturn"],
    ["x-ok", "snowman \u2603"],
  ];
  for (const [name, value] of bad) {
    assertThrows(() => new Headers().set(name, value), TypeError);
    assertThrows(() => new RecordHeaders().set(name, value), TypeError);
    assertThrows(() => new RecordHeaders().append(name, value), TypeError);
  }
  assertThrows(() => new RecordHeaders().delete("bad name"), TypeError);
  // Latin-1 is a ByteString: accepted by both.
  const latin = "caf\u00e9";
  assertEquals(new RecordHeaders().get("x"), null);
  const r = new RecordHeaders();
  r.set("x", latin);
  const h = new Headers();
  h.set("x", latin);
  assertEquals(r.get("x"), h.get("x"));
});

Deno.test("RecordHeaders: new Headers() of it copies every pair", () => {
  const copy = RecordHeaders.from(new Headers(CLIENT));
  assertEquals(observe(new Headers(copy)), observe(new Headers(CLIENT)));
});
