import { assert, assertEquals } from "../test/helpers/assert.ts";
import { firstMatch, TEMPLATE_MATCH_BUDGET, UriTemplate } from "./uri_template.ts";

const matches = (template: string, uri: string) => new UriTemplate(template).match(uri);

Deno.test("URI templates match what each RFC 6570 operator expands to", () => {
  const cases: Array<[string, string, boolean]> = [
    ["test://t/{id}", "test://t/42", true],
    ["test://t/{id}", "test://t/", true],
    ["test://t/{id}", "test://t/4/2", false],
    ["test://t/{id}", "test://u/42", false],
    ["test://t/{id}", "test://t/42?x", false],
    ["a://{+path}", "a://x/y/z?q#f", true],
    ["a://{x,y}/{z}", "a://1,2/3", true],
    ["a://x{#frag}", "a://x#top/a", true],
    ["a://x{#frag}", "a://xtop", false],
    ["a://x{.fmt}", "a://x.json", true],
    ["a://x{.fmt}", "a://x", true],
    ["a://x{.fmt}", "a://xjson", false],
    ["a://x{.fmt}", "a://x./", false],
    ["a://x{;p}", "a://x;p=1", true],
    ["a://x{/path*}", "a://x/a/b/c", true],
    ["a://x{/path*}", "a://xa", false],
    ["a://x{/path*}", "a://x/a?b", false],
    ["a://x{?q,r}", "a://x?q=1&r=2", true],
    ["a://x{?q}{&r}", "a://x?q=1&r=2", true],
    ["a://x{?q}", "a://x=1", false],
    ["a://x{?q}", "a://x?q#f", false],
    ["a://{a}{b}/end", "a://xy/end", true],
    ["a://{a}aa{b}", "a://aaaa", true],
    ["a://{a}ab{b}", "a://aaaa", false],
    ["a://{a}aab{b}", "a://aaaabaab", true],
    ["no/expressions", "no/expressions", true],
    ["no/expressions", "no/expressions/", false],
    ["a://x{unclosed", "a://x{unclosed", true],
    ["a://x{unclosed", "a://xy", false],
  ];
  for (const [template, uri, want] of cases) {
    assertEquals(matches(template, uri), want, `${template} ~ ${uri}`);
  }
  assertEquals(new UriTemplate("a://{a}/{+b}").expressions, 2);
});

Deno.test("a hostile template against a long URI matches in linear time", () => {
  const many = (op: string) => Array.from({ length: 100 }, (_, i) => `{${op}v${i}}a`).join("");
  const uris = [
    "h://xa" + "a".repeat(10_000) + "?!",
    "h://x" + "/a".repeat(5_000) + "#!",
    "h://x" + "?a&".repeat(3_000) + "#!",
  ];
  for (const op of ["", "/", "+", "?", "."]) {
    const t = new UriTemplate(`h://x${many(op)}!`);
    for (const uri of uris) {
      const t0 = performance.now();
      assertEquals(t.match(uri), false);
      const ms = performance.now() - t0;
      // Milliseconds once compiled; the bound leaves room for a cold JIT on a busy machine. The
      // regular expression this replaced did not finish in an hour.
      assert(ms < 500, `${op}: ${Math.round(ms)} ms`);
    }
  }
  const t = new UriTemplate(`h://x${many("")}!`);
  assertEquals(t.match("h://x" + "a".repeat(10_000) + "!"), true, "and still matches when it should");
});

Deno.test("firstMatch: first registered wins, and a lookup stops at its budget", () => {
  const list = [
    { template: new UriTemplate("a://one/{x}"), server: "one" },
    { template: new UriTemplate("a://{x}/{y}"), server: "two" },
  ];
  assertEquals(firstMatch(list, "a://one/1")?.server, "one");
  assertEquals(firstMatch(list, "a://two/1")?.server, "two");
  assertEquals(firstMatch(list, "b://two/1"), undefined);
  const expensive = list[1].template.cost(10);
  assertEquals(firstMatch(list, "a://two/1", expensive), undefined, "the budget ran out before the second");
  const flood = Array.from({ length: 2_000 }, () => ({
    template: new UriTemplate(`a://${"{x}a".repeat(30)}{x}/!`),
    server: "hostile",
  }));
  const t0 = performance.now();
  assertEquals(firstMatch([...flood, ...list], "a://" + "a".repeat(1000) + "?/!"), undefined);
  const ms = performance.now() - t0;
  assert(ms < 500, `2,000 hostile templates are cut off by the budget: ${Math.round(ms)} ms`);
  assert(
    TEMPLATE_MATCH_BUDGET > list[1].template.cost(256) * 1000,
    "1,000 real templates and a long URI fit",
  );
});
