/**
 * README's first command on a clean clone: `deno task demo` starts the example servers, the dev
 * identity provider and the simulator with authentication on and no cluster; a client without a
 * token gets the 401 pointing at the protected-resource metadata, and each demo user, with the
 * token the demo says how to get, lists exactly the tools its roles name.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { REPO_ROOT, runCli, runProgram, spawnProgram } from "./helpers/cli.ts";
import { connectGateway, listAllTools } from "../src/mcp/client.ts";

/** examples/users/demo.yaml's roles, as tools of the gateway. */
const DEMO_TOOLS: Record<string, string[]> = {
  alice: ["booking_book_table", "weather_get_forecast", "weather_search"],
  bob: ["github_create_issue", "github_get_issue", "github_search", "internal_whoami"],
};

Deno.test("deno task demo from a clean clone: 401 without a token, each user lists exactly its tools", async () => {
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
    const origin = new URL(url).origin;
    const metadataUrl = `${origin}/.well-known/oauth-protected-resource/mcp`;

    // No token: the policy's 401, pointing at the metadata, which names the dev identity provider.
    const anonymous = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "t", version: "1" } },
      }),
    });
    await anonymous.body?.cancel();
    assertEquals(anonymous.status, 401);
    assertEquals(anonymous.headers.get("www-authenticate"), `Bearer resource_metadata=${metadataUrl}`);
    assertStringIncludes(
      demo.stdout,
      `Without a token: HTTP 401, WWW-Authenticate: Bearer resource_metadata=${metadataUrl}`,
    );
    const metadata = await (await fetch(metadataUrl)).json();
    const issuer = /Dev identity provider (http:\/\/127\.0\.0\.1:\d+)/.exec(demo.stdout)?.[1];
    assertEquals([metadata.resource, metadata.authorization_servers], [url, [issuer]]);

    for (const [user, tools] of Object.entries(DEMO_TOOLS)) {
      // The command the demo prints for this user gets its token.
      const command = new RegExp(`token: kubectl mcp token --user ${user} --gateway (\\S+)`).exec(
        demo.stdout,
      );
      assert(command, demo.stdout);
      const got = await runCli(["token", "--user", user, "--gateway", command[1]]);
      assertEquals(got.code, 0, got.stderr);
      const token = got.stdout.trim();
      const client = await connectGateway(url, { token });
      try {
        assertEquals((await listAllTools(client)).map((tool) => tool.name).sort(), tools, user);
        if (user === "bob") {
          const result = await client.callTool({ name: "internal_whoami", arguments: {} });
          // The gateway sends the registration's Secret to that server, never the client's token.
          assertStringIncludes(JSON.stringify(result.content), "demo-internal-token");
          assert(!JSON.stringify(result.content).includes(token), "the client's token reached the server");
        }
      } finally {
        await client.close();
      }
      // What the demo's start-up output says this user sees.
      assertStringIncludes(demo.stdout, `User ${user}: ${tools.length} tools`);
    }
    // A virtual server narrows bob's list further.
    const bobToken = (await runCli(["token", "--user", "bob", "--gateway", url])).stdout.trim();
    const triage = await connectGateway(url, { virtualServer: "mcp-demo/issue-triage", token: bobToken });
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
