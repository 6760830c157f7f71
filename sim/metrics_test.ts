import { assert, assertEquals } from "../test/helpers/assert.ts";
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  ClientNotificationSchema,
  ClientRequestSchema,
  ServerNotificationSchema,
  ServerRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { MCP_METHODS, methodLabel, Metrics, statusLabel } from "./metrics.ts";

/** The metrics text without the sample values: what series exist, not what they count. */
const series = (text: string) => text.replace(/ [^ ]+$/gm, "");

Deno.test("metrics: random methods, statuses, servers and relay kinds cannot grow the label set", () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const word = () => Math.floor(random() * 2 ** 31).toString(36) + "/" + Math.floor(random() * 1e6);
  const m = new Metrics();
  m.servers(["ns/a"]);
  const traffic = (method: string, status: number, server: string, kind: string) => {
    m.request(method, status);
    m.upstreamLatency(server, method, random());
    m.upstreamHealth(server, true);
    m.relayed(kind);
  };
  traffic("tools/call", 200, "ns/a", "cancel");
  traffic("no/such-method", 200, "ns/not-configured", "no-such-kind");
  const before = m.render();
  for (let i = 0; i < 10_000; i++) traffic(word(), 200, word(), word());
  const after = m.render();
  assertEquals(series(after), series(before));
  assert(
    after.length - before.length <= 8,
    "only two counts grew, 1 -> 10001 (requests and relays of other)",
  );
  assert(after.includes('mcp_gateway_requests_total{method="other",status="200"} 10001'), after);
  assert(!after.includes("ns/not-configured"));
  // Statuses: random ones fall into a fixed set too.
  for (let i = 0; i < 10_000; i++) m.request("ping", Math.floor(random() * 1000));
  const statuses = new Set([...m.render().matchAll(/status="([^"]*)"/g)].map((x) => x[1]));
  assert(statuses.size <= 19, [...statuses].join());
  assert(statuses.has("other"));
});

Deno.test("metrics: known labels pass, servers that leave take their series along", () => {
  assertEquals(methodLabel("tools/call"), "tools/call");
  assertEquals(methodLabel("notifications/cancelled"), "notifications/cancelled");
  assertEquals(methodLabel("GET"), "GET");
  assertEquals(methodLabel("batch"), "batch");
  assertEquals(methodLabel("tools/call\n"), "other");
  assertEquals(methodLabel("__proto__"), "other");
  assertEquals(statusLabel(404), "404");
  assertEquals(statusLabel(418), "other");
  const m = new Metrics();
  m.upstreamLatency("ns/a", "tools/call", 0.1);
  m.upstreamHealth("ns/a", true);
  m.upstreamLatency("ns/b", "ping", 0.1);
  m.removeUpstream("ns/a");
  assert(!m.render().includes("ns/a"), "a removed server leaves no series");
  assert(m.render().includes('server="ns/b"'), "before servers() every server is counted");
  m.servers(["ns/c"]);
  assert(!m.render().includes("ns/b"), "servers() drops series of servers not configured");
});

Deno.test("metrics: every method the MCP SDK knows is a label of its own", () => {
  const methods = [
    ClientRequestSchema,
    ClientNotificationSchema,
    ServerRequestSchema,
    ServerNotificationSchema,
  ]
    .flatMap((union) =>
      (union as unknown as { options: Array<{ shape: { method: { value: string } } }> }).options
    )
    .map((schema) => schema.shape.method.value);
  assert(methods.length > 25, methods.join());
  for (const method of methods) assert(MCP_METHODS.has(method), `${method} is missing from MCP_METHODS`);
});
