import { assertEquals } from "../../test/helpers/assert.ts";
import { requestJson } from "../../test/helpers/auth_guides.ts";
import { compileCel, evaluatePredicate } from "./cel.ts";
import { CEL_ROOTS, overloads } from "./cel_env.ts";

Deno.test("cel env: the declarations the checker reads, as Authorino's cel-go has them", () => {
  assertEquals(CEL_ROOTS, ["request", "source", "destination", "auth", "metadata"]);
  // cel-go's strings extension has `reverse`, which `@bufbuild/cel` lacks.
  assertEquals(overloads("reverse"), [{ target: "string", args: [], result: "string" }]);
  assertEquals(overloads("strings.quote")?.[0].result, "string");
  assertEquals(overloads("math.greatest"), undefined);
  assertEquals(overloads("duration")?.some((o) => o.result === "duration"), true);
});

Deno.test("cel: standard and strings-extension functions over the request", () => {
  const json = requestJson({
    path: "/mcp/Tools?x=1",
    headers: { "X-Custom": "Hello World" },
    identity: { sub: "a", n: 3, groups: ["a", "b"] },
  });
  const holds = (source: string) => evaluatePredicate(compileCel(source), json);
  assertEquals(holds("request.url_path.lowerAscii() == '/mcp/tools'"), true);
  assertEquals(holds("request.query == 'x=1' && request.path.endsWith('?x=1')"), true);
  assertEquals(
    holds("request.headers['x-custom'].startsWith('Hello') && size(request.headers['x-custom']) == 11"),
    true,
  );
  assertEquals(holds("request.headers['x-custom'].matches('^[A-Z][a-z]+ W')"), true);
  assertEquals(holds("request.headers['x-custom'].split(' ')[1] == 'World'"), true);
  assertEquals(holds("auth.identity.n == 3 && auth.identity.n > 2.5"), true);
  assertEquals(holds("auth.identity.groups.all(g, g.size() == 1) && 'b' in auth.identity.groups"), true);
  assertEquals(holds("auth.identity.groups.exists_one(g, g == 'a')"), true);
  assertEquals(
    holds("request.method == 'POST' && source.address == '127.0.0.1' && destination.port == 8001"),
    true,
  );
  assertEquals(holds("request.headers[':authority'] == 'mcp.127-0-0-1.sslip.io:8001'"), true);
});
