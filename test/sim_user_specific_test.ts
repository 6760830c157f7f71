/**
 * `userSpecificList` servers through the simulator, as upstream's broker serves them: each client's
 * own tools, listed and called with that client's own headers, next to servers listed once with
 * the registration's credential (which never see the client's token).
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { AUTH_FIXTURE_TOKEN, startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { userHeaders } from "../sim/client_session.ts";
import { connectClient, firstText } from "./sim_helpers.ts";

type Client = Awaited<ReturnType<typeof connectClient>>["client"];
const names = async (client: Client) => (await client.listTools()).tools.map((t) => t.name).sort();
const whoami = async (client: Client, tool: string) =>
  JSON.parse(firstText(await client.callTool({ name: tool, arguments: {} }))).authorization;

for (const passthrough of [true, false]) {
  Deno.test(`userSpecificList: each client lists and calls its own tools with its own headers (pass-through ${passthrough ? "on" : "off"})`, async () => {
    await using perUser = await startFixture("per-user");
    await using auth = await startFixture("auth");
    await using gw = await startGateway(
      normalizeConfig({
        servers: [
          {
            name: "team/notes",
            url: perUser.url,
            prefix: "u_",
            userSpecificList: true,
            credential: "Bearer broker",
          },
          { name: "team/auth", url: auth.url, prefix: "a_", credential: `Bearer ${AUTH_FIXTURE_TOKEN}` },
        ],
        extension: { discoveryTools: false },
      }),
      { toolCallPassthrough: passthrough },
    );
    await using alice = await connectClient(gw.url, { headers: { Authorization: "Bearer alice" } });
    await using bob = await connectClient(gw.url, { headers: { Authorization: "Bearer bob" } });
    await using nobody = await connectClient(gw.url);
    assertEquals(await names(alice.client), ["a_whoami", "u_alice_notes", "u_whoami"]);
    assertEquals(await names(bob.client), ["a_whoami", "u_bob_notes", "u_whoami"]);
    assertEquals(await names(nobody.client), ["a_whoami", "u_whoami"]);
    // Served as the other tools are by default: annotations always, no upstream `execution`.
    for (const tool of (await alice.client.listTools()).tools) {
      assert(tool.annotations && !("execution" in tool), JSON.stringify(tool));
    }

    assertEquals(await whoami(alice.client, "u_whoami"), "Bearer alice");
    assertEquals(await whoami(bob.client, "u_whoami"), "Bearer bob");
    assertEquals(await whoami(nobody.client, "u_whoami"), null);
    assertEquals(
      firstText(await alice.client.callTool({ name: "u_alice_notes", arguments: {} })),
      "notes of alice",
    );
    // Another user's tool is not this client's: the backend session opened with bob's token has none.
    const stolen = await bob.client.callTool({ name: "u_alice_notes", arguments: {} }).catch((e) => e);
    assert(stolen instanceof Error || stolen.isError, JSON.stringify(stolen));
    // Servers listed once keep the registration's credential, never the client's.
    assertEquals(await whoami(alice.client, "a_whoami"), `Bearer ${AUTH_FIXTURE_TOKEN}`);

    const status = (await gw.status()).servers.find((s) => s.name === "team/notes")!;
    assertEquals([status.state, status.toolCount], ["ready", 0]);
  });
}

Deno.test("userSpecificList: a server failing for one client leaves out only its tools", async () => {
  await using perUser = await startFixture("per-user", { token: "alice" });
  await using weather = await startFixture("weather");
  await using gw = await startGateway(normalizeConfig({
    servers: [
      {
        name: "team/notes",
        url: perUser.url,
        prefix: "u_",
        userSpecificList: true,
        credential: "Bearer alice",
      },
      { name: "team/weather", url: weather.url, prefix: "w_" },
    ],
    extension: { discoveryTools: false },
  }));
  await using alice = await connectClient(gw.url, { headers: { Authorization: "Bearer alice" } });
  await using mallory = await connectClient(gw.url, { headers: { Authorization: "Bearer mallory" } });
  assertEquals(await names(alice.client), ["u_alice_notes", "u_whoami", "w_get_forecast", "w_search"]);
  // The server refuses mallory's token: her list has everything else.
  assertEquals(await names(mallory.client), ["w_get_forecast", "w_search"]);
});

Deno.test("userHeaders keeps the client's own headers and drops transport, gateway and cookie ones", () => {
  const req = new Request("http://127.0.0.1/mcp", {
    method: "POST",
    headers: {
      authorization: "Bearer alice",
      "x-api-key": "k1",
      "user-agent": "agent/1",
      accept: "application/json, text/event-stream",
      "content-type": "application/json",
      "mcp-session-id": "s",
      "mcp-protocol-version": "2025-11-25",
      "x-mcp-virtualserver": "ns/vs",
      cookie: "session=1",
      "proxy-authorization": "Basic x",
      "accept-encoding": "gzip",
    },
  });
  assertEquals(userHeaders(req.headers), {
    authorization: "Bearer alice",
    "user-agent": "agent/1",
    "x-api-key": "k1",
  });
});
