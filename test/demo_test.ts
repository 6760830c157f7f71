/**
 * README's first command on a clean clone: `deno task demo` starts the example servers and the
 * simulator with no cluster, and an MCP client talks to the endpoint it prints.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { REPO_ROOT, runProgram, spawnProgram } from "./helpers/cli.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";

Deno.test("deno task demo from a clean clone answers an MCP client", async () => {
  const clone = await Deno.makeTempDir({ prefix: "kubectl-mcp-clone-" });
  try {
    // A clean clone of what is committed: nothing from this working tree but its git history.
    const cloned = await runProgram("git", ["clone", "--quiet", REPO_ROOT, `${clone}/repo`]);
    assertEquals(cloned.code, 0, cloned.stderr);
    await using demo = spawnProgram(Deno.execPath(), ["task", "demo", "--port", "0"], {
      cwd: `${clone}/repo`,
      timeoutMs: 180_000,
    });
    const [, url] = await demo.waitFor(/MCP gateway listening on (http:\/\/\S+\/mcp)/, 180_000);
    assertStringIncludes(demo.stdout, "mcp-demo/weather");
    const client = await connectGateway(url);
    try {
      const tools = await listAllTools(client);
      assert(
        tools.some((tool) => tool.name === "weather_get_forecast"),
        JSON.stringify(tools.map((t) => t.name)),
      );
      const result = await client.callTool({ name: "internal_whoami", arguments: {} });
      // The gateway sends the registration's Secret to that server, never the client's credentials.
      assertStringIncludes(JSON.stringify(result.content), "demo-internal-token");
    } finally {
      await client.close();
    }
    const triage = await connectGateway(url, { virtualServer: "mcp-demo/issue-triage" });
    try {
      assertEquals((await listAllTools(triage)).map((tool) => tool.name).sort(), [
        "github_get_issue",
        "github_search",
      ]);
    } finally {
      await triage.close();
    }
    assertEquals(await demo.interrupt(), 0);
  } finally {
    await Deno.remove(clone, { recursive: true });
  }
});
