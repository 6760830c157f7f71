import { assert, assertEquals } from "../test/helpers/assert.ts";
import { ListAnswerCache } from "./list_answers.ts";

const text = (json: Uint8Array) => new TextDecoder().decode(json);

Deno.test("ListAnswerCache: one build per view of a generation, its JSON text; another view or generation builds anew", () => {
  const cache = new ListAnswerCache<{ name: string }>();
  const catalog = {};
  const config = {};
  const vs = { tools: ["a"] };
  let builds = 0;
  const build = (names: string[]) => () => {
    builds++;
    return names.map((name) => ({ name }));
  };
  const all = cache.answer([catalog, config], [undefined, "all"], build(["a", "b"]));
  assertEquals(text(all.json), '[{"name":"a"},{"name":"b"}]');
  assertEquals(builds, 1);
  // The same view again: the very answer, not built again.
  assert(cache.answer([catalog, config], [undefined, "all"], build(["x"])) === all);
  assertEquals(builds, 1);
  // Another virtual server, another wristband outcome, another scope: each its own answer.
  const some = cache.answer([catalog, config], [vs, "all"], build(["a"]));
  const none = cache.answer([catalog, config], [undefined, "none"], build([]));
  const scoped = cache.answer([catalog, config], [undefined, "all", new Set(["b"])], build(["b"]));
  assertEquals([some, none, scoped].map((a) => text(a.json)), ['[{"name":"a"}]', "[]", '[{"name":"b"}]']);
  assertEquals(builds, 4);
  assert(cache.answer([catalog, config], [undefined, "all"], build(["x"])) === all);
  assertEquals(cache.size, 4);
  // A new catalog: every answer of the old one is dropped, the view built again.
  const next = cache.answer([{}, config], [undefined, "all"], build(["a", "b", "c"]));
  assertEquals(text(next.json), '[{"name":"a"},{"name":"b"},{"name":"c"}]');
  assertEquals([builds, cache.size], [5, 1]);
  // A new config with the same catalog too.
  cache.answer([{}, {}], [undefined, "all"], build(["a"]));
  assertEquals([builds, cache.size], [6, 1]);
});

Deno.test("ListAnswerCache: keeps the max most recently used views", () => {
  const cache = new ListAnswerCache<number>(2);
  let builds = 0;
  const build = () => [++builds];
  const generation = [{}];
  const [a, b, c] = [{}, {}, {}];
  cache.answer(generation, [a], build);
  cache.answer(generation, [b], build);
  // a was used last: b goes when c comes.
  cache.answer(generation, [a], build);
  cache.answer(generation, [c], build);
  assertEquals([builds, cache.size], [3, 2]);
  cache.answer(generation, [a], build);
  assertEquals(builds, 3);
  assertEquals(cache.answer(generation, [b], build).items, [4]);
});
