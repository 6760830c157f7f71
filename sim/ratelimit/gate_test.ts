import { assertEquals } from "../../test/helpers/assert.ts";
import { GATEWAY_NS, gatewayObjects } from "../../test/helpers/auth_objects.ts";
import { policyTargetsFromObjects } from "../auth/auth_policy.ts";
import { RateLimitGate, TOO_MANY_REQUESTS_BODY } from "./gate.ts";
import { MemoryCounters } from "./counters.ts";
import { rateLimitPolicy } from "./test_objects.ts";

const targets = () => policyTargetsFromObjects(gatewayObjects());
const gw = { kind: "Gateway" as const, name: "mcp-gateway" };
const request = (headers: Record<string, string> = {}) =>
  new Request("http://127.0.0.1/mcp", { method: "POST", headers });

Deno.test("RateLimitGate: broker route for requests to the gateway, server route for routed calls, with the router's headers", async () => {
  const limited: string[] = [];
  const gate = new RateLimitGate({
    policies: [
      rateLimitPolicy(GATEWAY_NS, "calls", gw, {
        limits: {
          // A client's own x-mcp-toolname is replaced by the router's on a routed call.
          forecast: {
            rates: [{ limit: 1, window: "1m" }],
            when: [{ predicate: "request.headers['x-mcp-toolname'] == 'forecast'" }],
          },
          broker: {
            rates: [{ limit: 1, window: "1m" }],
            when: [{ predicate: "request.headers['x-mcp-servername'] == 'mcpBroker'" }],
          },
        },
      }),
    ],
    targets: targets(),
    onLimited: (by) => limited.push(`${by.policy}#${by.limit}`),
  });
  const call = {
    method: "tools/call",
    serverName: "mcp-test/s1",
    toolName: "forecast",
    requestedName: "s1_forecast",
  };
  assertEquals(await gate.evaluate({ attributes: call, request: request() }), { allow: true });
  const second = await gate.evaluate({ attributes: call, request: request() });
  assertEquals(second, {
    allow: false,
    status: 429,
    message: "Too Many Requests",
    body: TOO_MANY_REQUESTS_BODY,
  });
  const other = { ...call, toolName: "search", requestedName: "s1_search" };
  assertEquals(
    await gate.evaluate({ attributes: other, request: request({ "x-mcp-toolname": "forecast" }) }),
    {
      allow: true,
    },
  );
  // tools/list goes to the broker: `x-mcp-servername: mcpBroker`.
  const list = { attributes: { method: "tools/list" }, request: request() };
  assertEquals((await gate.evaluate(list)).allow, true);
  assertEquals((await gate.evaluate(list)).allow, false);
  // GET /status: the broker route's `status` rule, no x-mcp-* header, so neither limit applies.
  assertEquals((await gate.evaluateRequest({ request: request(), rule: "status" })).allow, true);
  assertEquals(limited, [`${GATEWAY_NS}/calls#forecast`, `${GATEWAY_NS}/calls#broker`]);

  // update: the new limits apply to the next request; the counters stay.
  gate.update({
    policies: [
      rateLimitPolicy(GATEWAY_NS, "calls", gw, {
        limits: { forecast: { rates: [{ limit: 5, window: "1m" }] } },
      }),
    ],
    targets: targets(),
  });
  assertEquals((await gate.evaluate({ attributes: call, request: request() })).allow, true);
  const status = await gate.status();
  assertEquals(status.limited, [{ policy: `${GATEWAY_NS}/calls`, limit: "forecast", count: 1 }, {
    policy: `${GATEWAY_NS}/calls`,
    limit: "broker",
    count: 1,
  }]);
  assertEquals(Object.keys(status.limits).sort(), [
    "broker",
    "server mcp-test/s1",
    "server mcp-test/s2",
    "status",
    "well-known",
  ]);
});

Deno.test("RateLimitGate: CEL that does not compile and missing targets are reported, not applied", () => {
  const gate = new RateLimitGate({
    policies: [
      rateLimitPolicy(GATEWAY_NS, "bad-cel", gw, {
        limits: { x: { rates: [{ limit: 1, window: "1s" }], when: [{ predicate: "request.(" }] } },
      }),
    ],
    targets: targets(),
  });
  assertEquals(gate.summary.problems.map((p) => p.code), ["invalid-policy"]);
  assertEquals(gate.summary.where, {});
  const none = new RateLimitGate({
    policies: [rateLimitPolicy(GATEWAY_NS, "p", gw, { limits: {} })],
    targets: undefined,
  });
  assertEquals(none.summary.problems.map((p) => p.code), ["target-not-found"]);
});

Deno.test("RateLimitGate: windows and limits count as the cluster's Limitador is given them", async () => {
  let now = 1_000_000;
  const gate = new RateLimitGate({
    policies: [
      rateLimitPolicy(GATEWAY_NS, "rates", gw, {
        limits: {
          // 0 s in Limitador: the counter expires at once and never fills.
          blink: {
            rates: [{ limit: 1, window: "500ms" }],
            when: [{ predicate: "request.headers['x-mcp-toolname'] == 'blink'" }],
          },
          // 1 s in Limitador, not 1.5 s.
          short: {
            rates: [{ limit: 1, window: "1500ms" }],
            when: [{ predicate: "request.headers['x-mcp-toolname'] == 'short'" }],
          },
          // 0 in Limitador: every request is refused.
          negative: {
            rates: [{ limit: -3, window: "1m" }],
            when: [{ predicate: "request.headers['x-mcp-toolname'] == 'negative'" }],
          },
        },
      }),
    ],
    targets: targets(),
    storage: new MemoryCounters({ now: () => now }),
  });
  const call = async (toolName: string) =>
    (await gate.evaluate({
      attributes: {
        method: "tools/call",
        serverName: "mcp-test/s1",
        toolName,
        requestedName: `s1_${toolName}`,
      },
      request: request(),
    })).allow;
  for (let i = 0; i < 3; i++) assertEquals(await call("blink"), true, `blink call ${i}`);
  assertEquals([await call("short"), await call("short")], [true, false]);
  now += 1000;
  assertEquals(await call("short"), true);
  assertEquals(await call("negative"), false);
});
