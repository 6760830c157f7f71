/**
 * The catalog as broker v0.9.0 serves it, each answer checked against the broker's own, recorded in
 * /work/helpers/broker_v0.9.0_observed.md (issue #11; "observation" below, sections named).
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { Tool } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals } from "./helpers/assert.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { post, rawSession } from "./sim_helpers.ts";

/** A raw session on `url`: each call posts one request and returns its JSON-RPC result. */
async function session(url: string) {
  const s = await rawSession(url, "2025-06-18");
  let id = 1;
  return async (method: string, params: Record<string, unknown> = {}) => {
    const r = await post(url, { jsonrpc: "2.0", id: ++id, method, params }, s.headers);
    assertEquals(r.status, 200, `${method}: HTTP ${r.status}`);
    assert(r.json && "result" in r.json, `${method}: ${JSON.stringify(r.json)}`);
    return r.json.result as Record<string, unknown>;
  };
}

Deno.test("a server with resources but no resources/templates/list keeps its tools (-32601 means none)", async () => {
  for (const federateAll of [false, true]) {
    await using notpl = await startFixture("no-templates");
    await using gw = await startGateway(
      normalizeConfig({ servers: [{ name: "mcp-test/notpl", url: notpl.url, prefix: "notpl_" }] }),
      { federateAll },
    );
    const call = await session(gw.url);
    const { tools } = await call("tools/list") as { tools: Tool[] };
    // Observation 3.13: served normally, ready; the broker never asks for templates.
    assert(
      tools.some((t) => t.name === "notpl_hello"),
      `federateAll ${federateAll}: ${JSON.stringify(tools)}`,
    );
    const status = await gw.status();
    assertEquals(status.servers[0].state, "ready");
    const asked = notpl.stats().rpcMethods["resources/templates/list"] ?? 0;
    if (federateAll) {
      assertEquals(asked, 1);
      assertEquals(await call("resources/templates/list"), { resourceTemplates: [] });
    } else {
      assertEquals(asked, 0, "the broker never calls resources/templates/list");
    }
  }
});
