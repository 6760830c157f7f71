/** The default policy. */
import { assertEquals } from "../test/helpers/assert.ts";
import { allowAll, type PolicyInput } from "./policy.ts";

Deno.test("allowAll allows every request, with or without a session, whatever it carries", async () => {
  const request = new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: { authorization: "Bearer x" },
  });
  const inputs: PolicyInput[] = [
    { attributes: { method: "initialize" }, request },
    {
      attributes: {
        method: "tools/call",
        requestedName: "w_delete_everything",
        serverName: "ns/weather",
        toolName: "delete_everything",
        annotationHints: "readOnly=false,destructive=true,idempotent=unspecified,openWorld=unspecified",
        virtualServer: "ns/vs",
      },
      request,
      sessionId: "s",
    },
    {
      attributes: { method: "tools/call", requestedName: "nobody_has_this" },
      request: new Request(request),
      sessionId: "s",
    },
  ];
  for (const input of inputs) assertEquals(await allowAll.evaluate(input), { allow: true });
});
