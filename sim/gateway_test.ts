import { assertEquals } from "../test/helpers/assert.ts";
import { plainPath } from "./gateway.ts";

Deno.test("plainPath: a plain path as the URL parser reads it, anything to normalise left to the parser", () => {
  const plain = [
    "http://127.0.0.1:8080/mcp",
    "http://127.0.0.1:8080/mcp?x=1",
    "http://127.0.0.1:8080/mcp#frag",
    "http://[::1]:8080/status/ns-1/my_server",
    "http://localhost/",
    "http://h/tokens?state=a/b#c?d",
  ];
  for (const url of plain) assertEquals(plainPath(url), new URL(url).pathname, url);
  // Dot segments, escapes, doubled or back slashes and other characters change under the parser:
  // these are its to read.
  const parsed = [
    "http://h/mcp/../status",
    "http://h/./mcp",
    "http://h/%6dcp",
    "http://h//mcp",
    "http://h/mcp/",
    "http://h/.well-known/oauth-protected-resource",
    "http://h/m%20cp",
    "http://h",
  ];
  for (const url of parsed) assertEquals(plainPath(url), undefined, url);
});
