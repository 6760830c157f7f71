import { assert, assertEquals } from "../test/helpers/assert.ts";
import { startFixture } from "../test/fixtures/mod.ts";
import { normalizeConfig } from "./config.ts";
import { connectUpstream, listEverything } from "./upstream.ts";

/** A loopback proxy in front of `target` that counts the requests by HTTP method and JSON-RPC method. */
function countingProxy(target: string) {
  const methods: string[] = [];
  const rpcMethods: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    methods.push(req.method);
    const body = req.method === "POST" ? await req.text() : undefined;
    if (body) rpcMethods.push(JSON.parse(body).method);
    const url = new URL(req.url);
    return fetch(new URL(url.pathname + url.search, target), {
      method: req.method,
      headers: req.headers,
      body,
      signal: req.signal,
    });
  });
  return { url: `http://127.0.0.1:${server.addr.port}`, methods, rpcMethods, close: () => server.shutdown() };
}

Deno.test("listEverything: toolsOnly asks the backend for tools/list and no other list", async () => {
  await using weather = await startFixture("weather");
  const proxy = countingProxy(weather.url);
  try {
    const server = normalizeConfig({ servers: [{ name: "ns/weather", url: proxy.url }] }).servers[0];
    const conn = await connectUpstream(server, { standaloneStream: false });
    try {
      const everything = await listEverything(conn.client, 5000);
      assert(everything.prompts.length > 0, "the weather fixture has prompts");
      proxy.rpcMethods.length = 0;
      const toolsOnly = await listEverything(conn.client, 5000, { toolsOnly: true });
      assertEquals(proxy.rpcMethods, ["tools/list"]);
      assertEquals(toolsOnly.tools, everything.tools);
      assertEquals([toolsOnly.prompts, toolsOnly.resources, toolsOnly.resourceTemplates], [[], [], []]);
    } finally {
      await conn.client.close();
    }
  } finally {
    await proxy.close();
  }
});

Deno.test("connectUpstream: the standalone GET stream is opened by default and not when standaloneStream is false", async () => {
  await using weather = await startFixture("weather");
  const proxy = countingProxy(weather.url);
  try {
    const server = normalizeConfig({ servers: [{ name: "ns/weather", url: proxy.url }] }).servers[0];
    for (const standaloneStream of [true, false]) {
      proxy.methods.length = 0;
      const conn = await connectUpstream(server, { standaloneStream });
      try {
        assertEquals((await conn.client.listTools()).tools.length > 0, true);
        // The SDK opens the stream after the initialized notification, without waiting for it.
        const deadline = Date.now() + 2000;
        while (standaloneStream && !proxy.methods.includes("GET") && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 20));
        }
        assertEquals(proxy.methods.includes("GET"), standaloneStream, proxy.methods.join(" "));
        assert(proxy.methods.filter((m) => m === "POST").length >= 3, proxy.methods.join(" "));
      } finally {
        await conn.client.close();
      }
    }
  } finally {
    await proxy.close();
  }
});
