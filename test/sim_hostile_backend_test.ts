/**
 * A hostile backend behind a real gateway (`test/fixtures/hostile.ts`): it answers requests it was
 * never sent, floods, uses CR line ends, redirects to another origin and sends huge and deep JSON.
 * Each test drives the gateway with raw HTTP or real SDK clients, on loopback.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "./helpers/assert.ts";
import { HOSTILE_SPOOFED, type HostileStats, startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import type { Logger } from "../sim/gateway.ts";
import { connectClient, firstText, post, rawSession, sseMessages, waitFor } from "./sim_helpers.ts";

type Log = { level: string; msg: string };

/**
 * `hostile` as its own process, as a backend is: what the test then measures in this process is
 * the gateway's share of a flood, not the flooding server's.
 */
async function spawnHostile(): Promise<{ url: string; port: number; close(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/serve.ts", import.meta.url).pathname, "hostile"],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  const deadline = setTimeout(() => child.kill("SIGKILL"), 30_000);
  while (!first.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    first += value;
  }
  clearTimeout(deadline);
  const url = /^listening hostile (\S+)\n/.exec(first)?.[1];
  const close = async () => {
    child.kill("SIGTERM");
    await child.status;
    await reader.cancel();
  };
  if (!url) {
    await close();
    throw new Error(`The hostile fixture did not start: ${first}`);
  }
  return { url, port: Number(new URL(url).port), close };
}

/** A gateway in front of `hostile`, `slow` and `weather`, with its log kept. */
async function setup(
  opts: { toolCallPassthrough?: boolean; upstreamTimeoutMs?: number; ownProcess?: boolean } = {},
) {
  const { ownProcess, ...gatewayOpts } = opts;
  const fixtures = await Promise.all([
    ownProcess ? spawnHostile() : startFixture("hostile"),
    startFixture("slow"),
    startFixture("weather"),
  ]);
  const [hostile, slow, weather] = fixtures;
  const logs: Log[] = [];
  const logger: Logger = (level, msg) => void logs.push({ level, msg });
  const gw = await startGateway(
    normalizeConfig({
      servers: [
        { name: "test/hostile", url: hostile.url, prefix: "h_" },
        { name: "test/slow", url: slow.url, prefix: "s_" },
        { name: "test/weather", url: weather.url, prefix: "w_" },
      ],
    }),
    { logger, ...gatewayOpts },
  );
  return {
    gw,
    hostile,
    logs,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await Promise.all(fixtures.map((f) => f.close()));
    },
  };
}

/** A raw `tools/call` body. */
const callBody = (id: number | string, name: string, args: Record<string, unknown> = {}) => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: args },
});

/** Every message of a raw `tools/call`'s answer, SSE or JSON. */
async function messagesOf(res: Response): Promise<Record<string, unknown>[]> {
  if (!res.headers.get("content-type")?.includes("text/event-stream")) return [await res.json()];
  const all = [];
  for await (const m of sseMessages(res)) all.push(m);
  return all;
}

async function stats(fixture: { url: string }): Promise<HostileStats> {
  await using c = await connectClient(fixture.url);
  return JSON.parse(firstText(await c.client.callTool({ name: "stats", arguments: {} })));
}

const errorMessage = (m: Record<string, unknown> | undefined) =>
  (m?.error as { message?: string })?.message ?? "";

Deno.test("pass-through: a backend's responses to other requests never reach the client", async () => {
  await using t = await setup();
  const a = await rawSession(t.gw.url);
  const b = await rawSession(t.gw.url);
  // Pending calls of both clients, with ids the hostile server will answer.
  const send = (s: { headers: Record<string, string> }, body: unknown) =>
    fetch(t.gw.url, { method: "POST", headers: s.headers, body: JSON.stringify(body) });
  const pendingA = send(a, callBody(7, "s_sleep", { ms: 1500, steps: 1 }));
  const pendingB = send(b, callBody(3, "s_sleep", { ms: 1500, steps: 1 }));
  await waitFor(() => t.gw.gateway.passthrough?.inflight === 2, 5000, "both sleeps to be in flight");

  const spoof = await messagesOf(await send(a, callBody(1, "h_spoof", { ids: [7, 3, "7"] })));
  const responses = spoof.filter((m) => m.method === undefined);
  assertEquals(responses.map((m) => m.id), [1], JSON.stringify(spoof));
  assertEquals(firstText(responses[0].result), "genuine answer");
  // Notifications pass, also one whose JSON came split over data lines.
  assert(spoof.some((m) => m.method === "notifications/message"), JSON.stringify(spoof));

  for (const [pending, id] of [[pendingA, 7], [pendingB, 3]] as const) {
    const answers = (await messagesOf(await pending)).filter((m) => m.method === undefined);
    assertEquals(answers.map((m) => [m.id, firstText(m.result)]), [[id, "slept 1500ms"]]);
  }

  // A JSON body answering another id fails the call; nothing of it reaches the client.
  const json = await post(t.gw.url, callBody(2, "h_spoof_json", { ids: [7] }), a.headers);
  assertEquals(json.json?.id, 2);
  assertStringIncludes(errorMessage(json.json), "test/hostile");
  assert(!JSON.stringify(json.json).includes(HOSTILE_SPOOFED));

  const warned = t.logs.filter((l) =>
    l.level === "warn" && l.msg.includes("request other than this tools/call")
  );
  assert(warned.length >= 2 && warned.every((l) => l.msg.includes("test/hostile")), JSON.stringify(t.logs));
  // Logged once per call, and never with the message itself.
  assert(warned.length <= 2, JSON.stringify(warned));
  assert(t.logs.every((l) => !l.msg.includes(HOSTILE_SPOOFED)), JSON.stringify(t.logs));
});

/** Both ways a `tools/call` can take through the gateway. */
const PATHS = [["pass-through", true], ["SDK path", false]] as const;

for (const [path, passthrough] of PATHS) {
  Deno.test(`${path}: an SDK client's pending call is not answered by another server's spoofed responses`, async () => {
    await using t = await setup({ toolCallPassthrough: passthrough });
    await using c = await connectClient(t.gw.url);
    // The client's ids are small numbers; the hostile server answers ids 0..20 on the spoof's stream.
    const sleep = c.client.callTool({ name: "s_sleep", arguments: { ms: 1000, steps: 1 } });
    await waitFor(
      () => !passthrough || t.gw.gateway.passthrough?.inflight === 1,
      5000,
      "the sleep to be in flight",
    );
    // On the SDK path the ids answered are those of the gateway's own client to the hostile
    // server: "1" for 1 would settle its call there.
    const spoof = await c.client.callTool({ name: "h_spoof", arguments: {} }).catch((err) => err);
    assertEquals([firstText(await sleep), firstText(spoof)], ["slept 1000ms", "genuine answer"]);
    const a = await rawSession(t.gw.url);
    const json = await post(t.gw.url, callBody(2, "h_spoof_json", { ids: [7] }), a.headers);
    assertEquals(json.json?.id, 2);
    assertStringIncludes(errorMessage(json.json), "test/hostile");
  });

  Deno.test(`${path}: an endless line, event or JSON body fails its own call; other clients keep their pace`, async () => {
    await using t = await setup({
      upstreamTimeoutMs: 10_000,
      ownProcess: true,
      toolCallPassthrough: passthrough,
    });
    const a = await rawSession(t.gw.url);
    await using b = await connectClient(t.gw.url);
    await b.client.callTool({ name: "w_search", arguments: { query: "a" } });

    let flooding = true;
    const latencies: number[] = [];
    const steady = (async () => {
      for (let i = 0; i < 10_000 && flooding; i++) {
        const t0 = performance.now();
        const r = await b.client.callTool({ name: "w_search", arguments: { query: "a" } });
        latencies.push(performance.now() - t0);
        assertStringIncludes(firstText(r), "weather");
      }
    })();
    const outcomes: Array<[string, number, string]> = [];
    try {
      for (const [i, tool] of ["h_flood_line", "h_flood_event", "h_flood_json"].entries()) {
        const t0 = performance.now();
        const r = await post(t.gw.url, callBody(i, tool), a.headers);
        outcomes.push([tool, performance.now() - t0, errorMessage(r.json)]);
        assertEquals(r.json?.id, i);
      }
    } finally {
      flooding = false;
      await steady;
    }
    const [line, event, json] = outcomes.map((o) => o[2]);
    assertMatch(line, /^Server test\/hostile sent an SSE line over the \d+-byte limit during tools\/call\.$/);
    assertMatch(
      event,
      /^Server test\/hostile sent an SSE event over the \d+-byte limit during tools\/call\.$/,
    );
    assertMatch(json, /^Server test\/hostile answered tools\/call with a body over the \d+-byte limit\.$/);
    for (const [tool, ms] of outcomes) assert(ms < 8000, `${tool} took ${Math.round(ms)} ms to fail`);
    // The other client's calls kept answering, and promptly (the bound allows for a loaded machine).
    assert(latencies.length >= 3, `only ${latencies.length} calls meanwhile`);
    const slowest = Math.max(...latencies);
    assert(
      slowest < 3000,
      `slowest call of the other client: ${Math.round(slowest)} ms (${latencies.length} calls)`,
    );
    // The gateway stopped reading each flood.
    await waitFor(
      async () => {
        const s = await stats(t.hostile);
        return s.floods === 3 && s.floodsCancelled === 3;
      },
      5000,
      "the floods to be cancelled",
    );
    if (passthrough) {
      assert(
        t.logs.some((l) => l.level === "warn" && l.msg === line),
        JSON.stringify(t.logs.filter((l) => l.level === "warn")),
      );
    }
  });

  Deno.test(`${path}: CR-only line ends and CRLF split across chunks are valid SSE`, async () => {
    await using t = await setup({ toolCallPassthrough: passthrough });
    const a = await rawSession(t.gw.url);
    const send = (body: unknown) =>
      fetch(t.gw.url, { method: "POST", headers: a.headers, body: JSON.stringify(body) });
    const cr = await messagesOf(await send(callBody(1, "h_cr_only")));
    const answer = cr.find((m) => m.id === 1);
    assertEquals(firstText(answer?.result), "cr only", JSON.stringify(cr));
    // The gateway's SDK server forwards a backend's log only at the level the client set.
    if (passthrough) assertEquals(cr.map((m) => m.method ?? m.id), ["notifications/message", 1]);
    const split = await messagesOf(await send(callBody(2, "h_crlf_split")));
    assertEquals(split.map((m) => [m.id, firstText(m.result)]), [[2, "crlf split"]]);
    await using c = await connectClient(t.gw.url);
    assertEquals(firstText(await c.client.callTool({ name: "h_cr_only", arguments: {} })), "cr only");
  });

  Deno.test(`${path}: a redirect to another origin fails the call; within the origin it is followed, bounded`, async () => {
    await using t = await setup({ toolCallPassthrough: passthrough });
    const a = await rawSession(t.gw.url);
    const away = await post(t.gw.url, callBody(1, "h_redirect_away"), a.headers);
    const awayText = JSON.stringify(away.json);
    assert(!awayText.includes(HOSTILE_SPOOFED), awayText);
    assertEquals(away.json?.id, 1);
    const failure = errorMessage(away.json);
    assertStringIncludes(failure, `Server test/hostile`);
    assertStringIncludes(failure, `localhost:${t.hostile.port}`);
    if (passthrough) {
      assertEquals(
        failure,
        `Server test/hostile redirected tools/call to another origin (http://localhost:${t.hostile.port}); ` +
          "redirects are followed only within the server's origin.",
      );
    }
    const here = await post(t.gw.url, callBody(2, "h_redirect_here"), a.headers);
    assertEquals(firstText(here.json?.result), "redirected within the origin");
    const loop = await post(t.gw.url, callBody(3, "h_redirect_loop"), a.headers);
    assertStringIncludes(errorMessage(loop.json), "Server test/hostile");
    const s = await stats(t.hostile);
    assertEquals([s.followedAway, s.followedHere], [0, 1]);
  });

  Deno.test(`${path}: huge answers within the cap pass, over it fail; deep JSON passes`, async () => {
    await using t = await setup({ toolCallPassthrough: passthrough });
    const a = await rawSession(t.gw.url);
    for (const tool of ["h_huge", "h_huge_json"]) {
      const ok = await post(t.gw.url, callBody(1, tool, { bytes: 512 * 1024 }), a.headers);
      assertEquals(firstText(ok.json?.result).length, 512 * 1024);
      const big = await post(t.gw.url, callBody(2, tool, { bytes: 8 * 1024 * 1024 }), a.headers);
      assertEquals(big.json?.id, 2);
      assertMatch(errorMessage(big.json), /^Server test\/hostile .* over the \d+-byte limit/);
    }
    const deep = await post(t.gw.url, callBody(3, "h_deep", { depth: 100_000 }), a.headers);
    assertEquals(firstText(deep.json?.result), "deep");
    await using c = await connectClient(t.gw.url);
    assertStringIncludes(
      firstText(await c.client.callTool({ name: "w_search", arguments: { query: "a" } })),
      "weather",
    );
  });
}

Deno.test("discovery: a server whose tools/list floods fails alone, within the cap", async () => {
  await using hostile = await startFixture("hostile", { mode: "flood-list" });
  await using weather = await startFixture("weather");
  const t0 = performance.now();
  await using gw = await startGateway(
    normalizeConfig({
      servers: [
        { name: "test/hostile", url: hostile.url, prefix: "h_" },
        { name: "test/weather", url: weather.url, prefix: "w_" },
      ],
    }),
    { upstreamTimeoutMs: 10_000 },
  );
  // The first round ended on the cap, not on the 10 s timeout.
  assert(performance.now() - t0 < 8000, `the gateway took ${Math.round(performance.now() - t0)} ms to start`);
  const status = (await gw.status()).servers.find((s) => s.name === "test/hostile");
  assertMatch(
    status?.lastError ?? "",
    /Server test\/hostile sent an SSE line over the \d+-byte limit during tools\/list\./,
  );
  await using c = await connectClient(gw.url);
  const names = (await c.client.listTools()).tools.map((tool) => tool.name);
  assert(names.includes("w_search") && !names.some((n) => n.startsWith("h_")), names.join());
  await waitFor(
    async () => {
      const s = await stats(hostile);
      return s.floods >= 1 && s.floodsCancelled === s.floods;
    },
    5000,
    "the flood to be cancelled",
  );
});
