/** The selector entry point, end to end: the guides' selectors through `selector.ts`. */
import { assertEquals } from "../../test/helpers/assert.ts";
import { select, selectString } from "./selector.ts";

Deno.test("selector: the user-based-tool-filter guide's wristband claim, hyphenated rule name and all", () => {
  const json = {
    auth: {
      identity: { sub: "alice" },
      authorization: {
        "allow-mcp-method": true,
        "authorized-capabilities": {
          allow: true,
          capabilities: { tools: { "mcp-test/weather": ["forecast"], "mcp-test/arith": ["add", "sub"] } },
        },
      },
    },
  };
  const claim = selectString(json, "auth.authorization.authorized-capabilities.capabilities.@tostr");
  // Go's encoding: keys sorted, compact; the broker parses it back.
  assertEquals(claim, '{"tools":{"mcp-test/arith":["add","sub"],"mcp-test/weather":["forecast"]}}');
  assertEquals(JSON.parse(claim), json.auth.authorization["authorized-capabilities"].capabilities);
  assertEquals(
    select(json, "auth.authorization.authorized-capabilities.capabilities.tools.mcp-test/arith.#"),
    2,
  );
});
