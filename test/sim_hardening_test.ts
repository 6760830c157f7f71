/**
 * The gateway against hostile clients: malformed params, too many sessions, foreign Host headers.
 * Hostile backends are in sim_hostile_backend_test.ts, the fuzzers in sim_fuzz_test.ts.
 */
import { normalizeConfig } from "../sim/config.ts";
import { startGateway } from "../sim/gateway.ts";
import { startFixture } from "./fixtures/mod.ts";
import { assert, assertEquals } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { initializeBody, post, rawSession } from "./sim_helpers.ts";

Deno.test("hardening: invalid params get -32602 with one short sentence, on every method", async () => {
  await using weather = await startFixture("weather");
  // federateAll serves resources/read and logging/setLevel; by default they get the broker's
  // -32601 whatever their params (test/sim_protocol_test.ts).
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }] }),
    { federateAll: true },
  );
  const s = await rawSession(gw.url);
  const cases: Array<[string, unknown, string]> = [
    ["tools/call", {}, "params.name"],
    ["tools/call", { name: 5 }, "params.name"],
    ["tools/call", { name: "w_get_forecast", arguments: "Oslo" }, "params.arguments"],
    ["prompts/get", {}, "params.name"],
    ["resources/read", { uri: 7 }, "params.uri"],
    ["tools/list", { cursor: 5 }, "params.cursor"],
    ["logging/setLevel", { level: "loud" }, "params.level"],
  ];
  for (const [method, params, path] of cases) {
    const r = await post(gw.url, { jsonrpc: "2.0", id: method, method, params }, s.headers);
    const error = r.json?.error as { code: number; message: string } | undefined;
    assertEquals(r.json?.id, method, `${method} ${JSON.stringify(params)}`);
    assertEquals(error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r.json)}`);
    assert(error!.message.startsWith(`Invalid params for ${method}: ${path}`), error!.message);
    assert(!error!.message.includes("\n") && error!.message.length <= 200, error!.message);
  }
  // The session is unharmed: a good call still works.
  const ok = await post(gw.url, {
    jsonrpc: "2.0",
    id: "ok",
    method: "tools/call",
    params: { name: "w_get_forecast", arguments: { city: "Oslo" } },
  }, s.headers);
  assertEquals(ok.json?.error, undefined);
});

Deno.test("hardening: past --max-sessions an initialize gets 503 and existing sessions keep working", async () => {
  await using weather = await startFixture("weather");
  await using gw = await startGateway(
    normalizeConfig({ servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }] }),
    { maxSessions: 3 },
  );
  const sessions = [];
  for (let i = 0; i < 3; i++) sessions.push(await rawSession(gw.url));
  const refused = await post(gw.url, initializeBody("2025-11-25", 9));
  assertEquals(refused.status, 503);
  assertEquals(refused.headers.get("mcp-session-id"), null);
  assertEquals(
    (refused.json?.error as { message: string }).message,
    "The gateway holds 3 sessions, its limit; try again later.",
  );
  assertEquals(refused.json?.id, 9);
  const listed = await post(gw.url, { jsonrpc: "2.0", id: 1, method: "tools/list" }, sessions[0].headers);
  assert(Array.isArray((listed.json?.result as { tools: unknown[] }).tools));
  // A session that ends frees its place.
  const del = await fetch(gw.url, { method: "DELETE", headers: sessions[0].headers });
  await del.body?.cancel();
  assertEquals(del.status, 200);
  await rawSession(gw.url);
});

/** Status of a request to `path` of the gateway at `url` naming `host` in its Host header (raw HTTP/1.1). */
async function statusForHost(url: string, path: string, host: string, body?: string): Promise<number> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const head = body === undefined
      ? `GET ${path} HTTP/1.1\r\nhost: ${host}\r\nconnection: close\r\n\r\n`
      : `POST ${path} HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\n` +
        `accept: application/json, text/event-stream\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
    await conn.write(new TextEncoder().encode(head));
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return Number(new TextDecoder().decode(buf.subarray(0, n ?? 0)).split(" ")[1]);
  } finally {
    conn.close();
  }
}

Deno.test("hardening: /mcp, /status and /metrics refuse a Host that is neither loopback nor the public host", async () => {
  await using weather = await startFixture("weather");
  await using gw = await startGateway(
    normalizeConfig({
      servers: [{ name: "test/weather", url: weather.url, prefix: "w_" }],
      extension: { publicHost: "mcp.example.com" },
    }),
    { publicHosts: ["gw.internal:8443"] },
  );
  const init = JSON.stringify(initializeBody("2025-11-25", 1));
  const port = new URL(gw.url).port;
  for (const path of ["/mcp", "/status", "/metrics", "/status/test/weather"]) {
    const body = path === "/mcp" ? init : undefined;
    assertEquals(
      await statusForHost(gw.url, path, "attacker.example", body),
      403,
      `${path} attacker.example`,
    );
    assertEquals(
      await statusForHost(gw.url, path, `attacker.example:${port}`, body),
      403,
      `${path} with port`,
    );
    assertEquals(await statusForHost(gw.url, path, "gw.internal:9999", body), 403, `${path} other port`);
  }
  for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, "mcp.example.com", "gw.internal:8443"]) {
    assertEquals(await statusForHost(gw.url, "/mcp", host, init), 200, `/mcp ${host}`);
    assertEquals(await statusForHost(gw.url, "/status", host), 200, `/status ${host}`);
  }
  // Liveness probes stay open to any Host: they reveal nothing.
  assertEquals(await statusForHost(gw.url, "/healthz", "attacker.example"), 200);
});

Deno.test("hardening: simulate refuses a --max-sessions that is not a positive whole number", async () => {
  for (const value of ["0", "1.5", "many"]) {
    const r = await runCli(["simulate", "--max-sessions", value, "--port", "0"]);
    assertEquals(r.code, 2, `--max-sessions ${value}: ${r.stderr}`);
    assert(r.stderr.includes(`invalid value "${value}" for --max-sessions`), r.stderr);
  }
});
