/**
 * Auth suite: what the upstream authorization guide's AuthPolicy (JWT authentication against an
 * OIDC issuer, CEL authorization on `x-mcp-toolname`) costs a `tools/call`, in one run:
 *
 * - through the gateway processes: the fixture straight, a gateway without the policy and a gateway
 *   with it (each in its own process, the same client token on every path), latency, throughput and
 *   the gateway process's CPU per call;
 * - in this process: the compiled engine's `evaluate()` for that policy over many iterations, CPU per
 *   call, broken down by stage (authorization JSON, authentication, authorization, response), against
 *   the target: JWT verification plus CEL authorization add at most 0.05 ms CPU per call
 *   (keys cached, programs compiled once).
 *
 * The issuer is `test/helpers/jwks_issuer.ts` on loopback (discovery and JWKS, RS256), served from this
 * process: the gateway fetches its keys once, then serves every call from its cache.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { parse } from "yaml";
import { connectGateway } from "../src/mcp/client.ts";
import { AUTHORIZATION_GUIDE } from "../test/helpers/auth_guides.ts";
import { startIssuer, type TestIssuer } from "../test/helpers/jwks_issuer.ts";
import { mcpExtension, mcpGateway, mcpServer } from "../test/helpers/auth_objects.ts";
import type { AuthConfigSpec, AuthRequest } from "../sim/auth/types.ts";
import { figuresByKey, type PerCall, perCall, sequentialAndLoad, steadySeconds } from "./measure.ts";
import {
  callOnce,
  count,
  cpuMs,
  ms,
  ratio,
  type Server,
  startServer,
  stats,
  type SuiteContext,
  type SuiteResult,
  us,
  withTimeout,
} from "./lib.ts";

/** The target: JWT verification plus CEL authorization, CPU per call. */
const TARGET_CPU_US = 50;

/** The registration the calls go to: the guide's roles are keyed by it (`x-mcp-servername`). */
const SERVER = "bench/slow";
const PREFIX = "slow_";

/** The simulator's auth modules, from the working tree or the `--sim` copy. */
interface AuthModules {
  engine: typeof import("../sim/auth/engine.ts");
  gate: typeof import("../sim/auth/gate.ts");
  policy: typeof import("../sim/auth/auth_policy.ts");
  jwks: typeof import("../sim/auth/jwks.ts");
  identity: typeof import("../sim/auth/identity.ts");
  authorization: typeof import("../sim/auth/authorization.ts");
  json: typeof import("../sim/auth/authorization_json.ts");
}

async function loadAuthModules(sim?: string): Promise<AuthModules> {
  const base = sim ? new URL(sim, `file://${Deno.cwd()}/`) : new URL("../sim/mod.ts", import.meta.url);
  const at = (path: string) => import(new URL(`./auth/${path}`, base).href);
  return {
    engine: await at("engine.ts"),
    gate: await at("gate.ts"),
    policy: await at("auth_policy.ts"),
    jwks: await at("jwks.ts"),
    identity: await at("identity.ts"),
    authorization: await at("authorization.ts"),
    json: await at("authorization_json.ts"),
  };
}

/**
 * The objects a replay would read: the extension on the Gateway's `mcp` listener, the Gateway with
 * the guide's `mcps` listener for the servers, the server's HTTPRoute and registration, and the
 * authorization guide's AuthPolicy as written, its issuer swapped for the loopback one.
 */
function authObjects(issuer: string): unknown[] {
  return [
    mcpExtension({}, { name: "mcp-gateway-extension" }),
    mcpGateway("127.0.0.1", { serversListener: true }),
    ...mcpServer("bench", "slow", PREFIX),
    parse(AUTHORIZATION_GUIDE.replaceAll(/https?:\/\/keycloak[^\s/]*\/realms\/mcp/g, issuer)),
  ];
}

/** Claims whose roles allow the fixture's tools on {@linkcode SERVER}, as the guide's Keycloak gives them. */
const ALLOWED = { resource_access: { [SERVER]: { roles: ["tool:echo", "tool:sleep"] } } };

// ---------------------------------------------------------------------------------------------------
// In process: the compiled engine

/** Stage wall times per call, microseconds (median over rounds), and the CPU of the whole pipeline. */
interface StageBreakdown {
  stages: Record<Stage, number>;
  total: PerCall;
}

type Stage = "authorization JSON" | "authenticate (JWT)" | "authorize (CEL)" | "response";
const STAGES: Stage[] = ["authorization JSON", "authenticate (JWT)", "authorize (CEL)", "response"];

/** A request as the gateway hands it to the gate: what the SDK client sends for a `tools/call`. */
function clientRequest(token: string): Request {
  return new Request("http://127.0.0.1:8080/mcp", {
    method: "POST",
    headers: {
      accept: "application/json, text/event-stream",
      "accept-encoding": "gzip,br",
      "accept-language": "*",
      authorization: `Bearer ${token}`,
      "content-length": "93",
      "content-type": "application/json",
      host: "127.0.0.1:8080",
      "mcp-protocol-version": "2025-06-18",
      "mcp-session-id": "0123456789abcdef0123456789abcdef",
      "user-agent": `Deno/${Deno.version.deno}`,
    },
  });
}

const ATTRIBUTES = {
  method: "tools/call",
  requestedName: `${PREFIX}echo`,
  toolName: "echo",
  serverName: SERVER,
  annotationHints:
    "readOnly=unspecified,destructive=unspecified,idempotent=unspecified,openWorld=unspecified",
};

interface EngineResult {
  engine: PerCall;
  gate: PerCall;
  breakdown: StageBreakdown;
  jwtVerify: PerCall;
  newToken: PerCall;
  emptyEvaluate: PerCall;
}

/** The guide's policy compiled once and evaluated in this process. */
async function measureEngine(
  mods: AuthModules,
  issuer: TestIssuer,
  quick: boolean,
): Promise<EngineResult> {
  const calls = quick ? 5_000 : 100_000;
  const rounds = quick ? 3 : 10;
  const objects = authObjects(issuer.url);
  const targets = mods.policy.policyTargetsFromObjects(objects)!;
  const spec: AuthConfigSpec | undefined = mods.policy.resolveAuthPolicies(objects, targets).servers.get(
    SERVER,
  );
  if (!spec) throw new Error(`The authorization guide's AuthPolicy does not apply to ${SERVER}`);
  const jwks = new mods.jwks.JwksCache();
  const context = { secrets: { list: () => [] }, jwks, unsupportedRules: "deny" as const };
  const engine = mods.engine.compileAuthConfig(spec, context);
  const gate = new mods.gate.AuthPolicyGate({ policies: objects, targets, context });
  // What the gate hands the engine for a routed call: the router's headers, the route's host.
  const routedHeaders = (token: string) => {
    const headers = mods.gate.authHeaders(clientRequest(token).headers, ATTRIBUTES, true);
    headers.set("host", "slow.mcp.local");
    return headers;
  };
  const token = await issuer.sign(ALLOWED);
  const request = clientRequest(token);
  const req: AuthRequest = {
    request,
    headers: routedHeaders(token),
    source: { address: "127.0.0.1", port: 40000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
  const first = await engine.evaluate(req);
  if (!first.allow) throw new Error(`The guide's policy denied the benchmark's token: ${first.reason}`);
  const denied = await engine.evaluate({
    ...req,
    headers: routedHeaders(await issuer.sign({})),
  });
  if (denied.allow || denied.status !== 403) {
    throw new Error("The guide's policy allowed a token without roles");
  }

  const engineCost = await perCall(() => engine.evaluate(req), calls, rounds);
  const gateCost = await perCall(
    () => gate.evaluate({ attributes: ATTRIBUTES, request, sessionId: "s" }),
    calls,
    rounds,
  );

  // The engine's pipeline (engine.ts `run`) stage by stage, on the engine's own compiled stages.
  const parts = engine.parts;
  if (!parts) throw new Error("The compiled engine exposes no stages (parts) to time one by one");
  const spent: Record<Stage, number> = {
    "authorization JSON": 0,
    "authenticate (JWT)": 0,
    "authorize (CEL)": 0,
    "response": 0,
  };
  const perRound: Record<Stage, number[]> = {
    "authorization JSON": [],
    "authenticate (JWT)": [],
    "authorize (CEL)": [],
    "response": [],
  };
  const staged = async () => {
    const t0 = performance.now();
    const json = mods.json.buildAuthorizationJson(req);
    const t1 = performance.now();
    const identity = await mods.identity.authenticate(parts.methods, req, json, request.signal);
    if (!identity.authenticated) throw new Error(identity.message);
    json.auth.identity = identity.identity;
    const t2 = performance.now();
    await mods.authorization.authorize(parts.authorization, json, request.signal);
    const t3 = performance.now();
    await parts.response.successHeaders(json);
    const t4 = performance.now();
    spent["authorization JSON"] += t1 - t0;
    spent["authenticate (JWT)"] += t2 - t1;
    spent["authorize (CEL)"] += t3 - t2;
    spent["response"] += t4 - t3;
  };
  const each = Math.floor(calls / rounds);
  let measured = 0;
  const total = await perCall(staged, calls, rounds, {
    round: () => {
      // The sums of each finished round; the warm-up's are dropped.
      if (measured++ > 0) { for (const s of STAGES) perRound[s].push((spent[s] * 1000) / each); }
      for (const s of STAGES) spent[s] = 0;
    },
  });
  for (const s of STAGES) perRound[s].push((spent[s] * 1000) / each);
  const stages = Object.fromEntries(STAGES.map((s) => [s, stats(perRound[s]).median])) as Record<
    Stage,
    number
  >;

  // The JWT method alone: a token whose signature was checked once (the keys cached, the claims
  // checked again on every call), as every call of a client but its first.
  const jwtVerify = await perCall(() => jwks.verify(token, { issuerUrl: issuer.url }), calls, rounds);
  // A client's first call with a token: the signature is verified (RS256, the key imported once).
  // No warm-up: it would make the tokens seen before.
  const fresh = await Promise.all(
    Array.from({ length: quick ? 50 : 400 }, (_, i) => issuer.sign({ ...ALLOWED, jti: `t${i}` })),
  );
  const freshReqs = fresh.map((t) => ({ ...req, headers: routedHeaders(t) }));
  const newToken = await perCall(
    async (i) => {
      const d = await engine.evaluate(freshReqs[i % freshReqs.length]);
      if (!d.allow) throw new Error(`A fresh token was denied: ${d.reason}`);
    },
    freshReqs.length,
    1,
    { warmup: 0 },
  );
  const empty = async (_req: AuthRequest) => await Promise.resolve({ allow: true, requestHeaders: {} });
  const emptyEvaluate = await perCall(() => empty(req), calls, rounds);
  await engine.close();
  await gate.close();
  return {
    engine: engineCost,
    gate: gateCost,
    breakdown: { stages, total },
    jwtVerify,
    newToken,
    emptyEvaluate,
  };
}

// ---------------------------------------------------------------------------------------------------
// Through the gateway processes

interface Path {
  label: string;
  key: "direct" | "plain" | "off" | "on";
  url: string;
  prefix: string;
  hop?: Server;
  /** The gateway's policies switched on or off (SIGUSR1 to bench/gateway_server.ts) for this path. */
  auth?: "on" | "off";
}

/** Rejects unless `fn` fails with HTTP `status` (the SDK's error carries it as `code`). */
async function expectStatus(fn: () => Promise<unknown>, status: number, what: string): Promise<void> {
  try {
    await fn();
  } catch (error) {
    const code = (error as { code?: number }).code;
    if (code === status) return;
    throw new Error(`${what}: expected HTTP ${status}, got ${code ?? (error as Error).message}`);
  }
  throw new Error(`${what}: expected HTTP ${status}, the call succeeded`);
}

/** Runs the auth suite. */
export async function authSuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const warmup = ctx.quick ? 20 : 100;
  const sequentialCalls = ctx.quick ? 100 : 1000;
  const blocks = ctx.quick ? 5 : 10;
  const loadRounds = ctx.quick ? 2 : 8;
  const concurrency = ctx.quick ? 4 : 16;
  const seconds = ctx.quick ? 2 : 8;
  const notes = result.notes;
  const servers: Server[] = [];
  const clients: Client[] = [];
  const issuer = await startIssuer();
  try {
    const mods = await loadAuthModules(ctx.sim);
    if (ctx.sim) notes.push(`The gateways and the engine ran the simulator loaded from ${ctx.sim}.`);

    // In process first, while nothing else of this suite runs.
    const engine = await measureEngine(mods, issuer, ctx.quick);

    const fixture = await startServer("fixture slow", "bench/fixture_server.ts", ["slow"]);
    servers.push(fixture.server);
    const config = JSON.stringify({ servers: [{ name: SERVER, url: fixture.url, prefix: PREFIX }] });
    const sim = ctx.sim ? ["--sim", ctx.sim] : [];
    const plain = await startServer("gateway (no --auth)", "bench/gateway_server.ts", [
      "--config",
      config,
      ...sim,
    ]);
    servers.push(plain.server);
    const gw = await startServer("gateway (AuthPolicy)", "bench/gateway_server.ts", [
      "--config",
      config,
      "--auth",
      JSON.stringify({ objects: authObjects(issuer.url) }),
      ...sim,
    ]);
    servers.push(gw.server);
    // On and off are one process whose policies are switched between blocks: two processes differ
    // by more than the policy costs on this machine (the separate process shows by how much).
    const paths: Path[] = [
      { label: "direct", key: "direct", url: fixture.url, prefix: "" },
      {
        label: "gateway without AuthPolicy (a second process)",
        key: "plain",
        url: plain.url,
        prefix: PREFIX,
        hop: plain.server,
      },
      {
        label: "gateway, AuthPolicy off",
        key: "off",
        url: gw.url,
        prefix: PREFIX,
        hop: gw.server,
        auth: "off",
      },
      {
        label: "gateway, authorization guide's AuthPolicy on",
        key: "on",
        url: gw.url,
        prefix: PREFIX,
        hop: gw.server,
        auth: "on",
      },
    ];
    const [, , withoutPolicy, withPolicy] = paths;
    let authState: "on" | "off" = "on";
    const use = async (p: Path) => {
      if (!p.auth || p.auth === authState) return;
      gw.server.signal("SIGUSR1");
      await gw.server.waitFor(new RegExp(`^policies ${p.auth}$`), 10_000);
      authState = p.auth;
    };
    const token = await issuer.sign(ALLOWED);
    const connect = (p: Path, t = token) =>
      withTimeout(connectGateway(p.url, { token: t }), 30_000, `connect ${p.label}`);

    // The policy is really evaluated on the measured path: no token is 401, a token without the
    // tool's role 403, and the path without the policy lets both through.
    {
      const anonymous = await withTimeout(connectGateway(withPolicy.url), 30_000, "connect without a token");
      clients.push(anonymous);
      const noRoles = await connect(withPolicy, await issuer.sign({ resource_access: {} }));
      clients.push(noRoles);
      await use(withPolicy);
      await expectStatus(() => callOnce(anonymous, withPolicy, "x"), 401, "tools/call without a token");
      await expectStatus(() => callOnce(noRoles, withPolicy, "x"), 403, "tools/call without the tool's role");
      await use(withoutPolicy);
      await callOnce(anonymous, withoutPolicy, "x");
      await callOnce(noRoles, withoutPolicy, "x");
    }

    const runs = await sequentialAndLoad(paths, {
      connect,
      before: use,
      hopPid: (p) => p.hop?.pid,
      fixturePid: fixture.server.pid,
      steadySeconds: steadySeconds(ctx),
      warmup,
      calls: sequentialCalls,
      blocks,
      concurrency,
      seconds,
      loadRounds,
      opened: clients,
    });
    const { latency: lat, load: tput, sequentialHopCpuMs } = figuresByKey(paths, runs);
    const seqCpu = (key: string) => sequentialHopCpuMs[key];
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));

    result.tables.push({
      title:
        `tools/call of \`echo\` with the authorization guide's AuthPolicy on and off: ${sequentialCalls} ` +
        `sequential calls per path on one session (after ${
          steadySeconds(ctx)
        } s of load on every path and ${warmup} warm-up calls), in ${blocks} rotating blocks; ` +
        "every path's client sends the same bearer JWT; on and off are one gateway process, its policies " +
        "switched between blocks",
      columns: ["path", "p50", "p90", "p99", "mean", "gateway CPU ms/call"],
      rows: [
        ...paths.map((p) => {
          const x = lat[p.key];
          return [
            p.label,
            ms(x.median),
            ms(x.p90),
            ms(x.p99),
            ms(x.mean),
            p.hop ? cpuMs(seqCpu(p.key)) : "-",
          ];
        }),
        [
          "AuthPolicy on - off, per call",
          ms(lat.on.median - lat.off.median),
          ms(lat.on.p90 - lat.off.p90),
          ms(lat.on.p99 - lat.off.p99),
          ms(lat.on.mean - lat.off.mean),
          cpuMs(seqCpu("on") - seqCpu("off")),
        ],
      ],
    });
    result.tables.push({
      title:
        `tools/call throughput of \`echo\`: ${concurrency} concurrent sessions per path, ${seconds} s per ` +
        `path in ${loadRounds} runs of ${seconds / loadRounds} s, the paths in rotating order`,
      columns: [
        "path",
        "calls/s",
        "calls",
        "errors",
        "p50",
        "p99",
        "gateway CPU ms/call",
        "fixture CPU ms/call",
      ],
      rows: [
        ...paths.map((p) => {
          const t = tput[p.key];
          return [
            p.label,
            count(t.callsPerSecond),
            count(t.calls),
            count(t.errors),
            ms(t.latency.median),
            ms(t.latency.p99),
            cpuMs(t.hopCpuMsPerCall),
            cpuMs(t.fixtureCpuMsPerCall),
          ];
        }),
        [
          "AuthPolicy on / off",
          ratio(tput.on.callsPerSecond / tput.off.callsPerSecond, 3),
          "",
          "",
          ratio(tput.on.latency.median / tput.off.latency.median, 3),
          ratio(tput.on.latency.p99 / tput.off.latency.p99, 3),
          `${cpuMs(tput.on.hopCpuMsPerCall - tput.off.hopCpuMsPerCall)} more`,
          "",
        ],
      ],
    });
    const e = engine;
    const stageSum = STAGES.reduce((a, s) => a + e.breakdown.stages[s], 0);
    result.tables.push({
      title:
        `The guide's AuthPolicy in process: the compiled engine's evaluate() for one allowed tools/call, ` +
        `${count(e.engine.calls)} calls in rounds (median round; the lowest round's CPU beside it)`,
      columns: ["what", "CPU µs/call", "lowest round", "wall µs/call"],
      rows: [
        [
          "engine evaluate(): JWT (token seen before) + CEL + response",
          us(e.engine.cpuUs),
          us(e.engine.minCpuUs),
          us(e.engine.wallUs),
        ],
        [
          "gate evaluate(): what the gateway calls (router headers, engine)",
          us(e.gate.cpuUs),
          us(e.gate.minCpuUs),
          us(e.gate.wallUs),
        ],
        [
          "the same pipeline stage by stage (timers around each stage)",
          us(e.breakdown.total.cpuUs),
          us(e.breakdown.total.minCpuUs),
          us(e.breakdown.total.wallUs),
        ],
        ...STAGES.map((s) => [`  ${s}`, "", "", us(e.breakdown.stages[s])]),
        ["  between stages (awaits, timers)", "", "", us(e.breakdown.total.wallUs - stageSum)],
        [
          "JwksCache.verify() alone, token seen before (keys cached, claims checked)",
          us(e.jwtVerify.cpuUs),
          us(e.jwtVerify.minCpuUs),
          us(e.jwtVerify.wallUs),
        ],
        [
          `engine evaluate() with a token never seen before (RS256 signature checked; ${e.newToken.calls} tokens)`,
          us(e.newToken.cpuUs),
          "",
          us(e.newToken.wallUs),
        ],
        [
          "floor: an empty async evaluate() in the same loop",
          us(e.emptyEvaluate.cpuUs),
          us(e.emptyEvaluate.minCpuUs),
          us(e.emptyEvaluate.wallUs),
        ],
      ],
    });
    const met = (ok: boolean) => (ok ? "met" : "NOT met");
    result.tables.push({
      title: "Target (from the issue; reported, not asserted)",
      columns: ["target", "measured", "verdict"],
      rows: [
        [
          `JWT verification plus CEL authorization add at most ${
            TARGET_CPU_US / 1000
          } ms CPU per call (keys ` +
          "cached, programs compiled once): the whole engine evaluate(), authorization JSON and response included",
          us(e.engine.cpuUs),
          met(e.engine.cpuUs <= TARGET_CPU_US),
        ],
        [
          "the same for the gate's evaluate(), the gateway's whole policy step (for context)",
          us(e.gate.cpuUs),
          met(e.gate.cpuUs <= TARGET_CPU_US),
        ],
        [
          "the gateway process's CPU per call, AuthPolicy on - off, sequential calls (for context: " +
          "everything the policy changes in the request path, in a process doing other work between calls; " +
          "10 ms ticks over the calls)",
          `${((seqCpu("on") - seqCpu("off")) * 1000).toFixed(0)} µs`,
          met((seqCpu("on") - seqCpu("off")) * 1000 <= TARGET_CPU_US),
        ],
        [
          "the same under load (for context)",
          `${((tput.on.hopCpuMsPerCall - tput.off.hopCpuMsPerCall) * 1000).toFixed(0)} µs`,
          met((tput.on.hopCpuMsPerCall - tput.off.hopCpuMsPerCall) * 1000 <= TARGET_CPU_US),
        ],
      ],
    });
    notes.push(
      "The issuer is test/helpers/jwks_issuer.ts (OIDC discovery and JWKS, one RS256 key) on loopback in the " +
        "harness process; each gateway fetched discovery and keys once. Tokens carry the guide's Keycloak-style " +
        `\`resource_access\` roles for ${SERVER} (tool:echo); the checks before measuring saw 401 without a ` +
        "token and 403 with a token without the role with the policy on, and an allow of both with it off.",
      "The policy is upstream's docs/guides/authorization.md as written (test/helpers/auth_guides.ts), only the " +
        "issuer swapped; it targets the Gateway's `mcps` listener, so it governs the calls routed to the " +
        "server's HTTPRoute and not initialize or tools/list at the broker.",
      "In-process figures: CPU is this process's user + system time (node:process cpuUsage) over a round " +
        "of calls, divided by the calls; the stage breakdown times each stage of engine.ts's pipeline with " +
        "performance.now() around it, run on the engine's own compiled stages (its parts: identity, authorization, " +
        "response), so its wall total is comparable with the engine's.",
      "On and off: bench/gateway_server.ts --auth serves the objects' policies and switches them off and on " +
        "at SIGUSR1 (off: every request allowed, as without --auth), so the difference is the policy's and " +
        "not a second process's; the separate gateway without --auth shows how far two processes differ.",
      "A token seen before is the steady state: the JWKS cache remembers a verified signature while the key " +
        "set is unchanged (exp and nbf are checked again on every call); only a client's first call with a " +
        "new token pays the RS256 verification in the row above.",
    );
    const seqDelta = (seqCpu("on") - seqCpu("off")) * 1000;
    const loadDelta = (tput.on.hopCpuMsPerCall - tput.off.hopCpuMsPerCall) * 1000;
    notes.push(
      `In the gateway process the policy adds ${seqDelta.toFixed(0)} µs (sequential calls) and ` +
        `${loadDelta.toFixed(0)} µs (under load) of CPU per call, against ${
          e.gate.cpuUs.toFixed(1)
        } µs for ` +
        "the gate's evaluate() in a tight loop here: between two calls the gateway runs a millisecond or more " +
        "of other code (HTTP, sessions, the upstream call), so the evaluation's code and data are cold on " +
        "every call, which a loop of evaluations never sees. For scale, the two gateway processes without " +
        `a policy differ by ${((seqCpu("off") - seqCpu("plain")) * 1000).toFixed(0)} µs (sequential) and ` +
        `${((tput.off.hopCpuMsPerCall - tput.plain.hopCpuMsPerCall) * 1000).toFixed(0)} µs (under load) ` +
        "per call on this shared machine.",
    );
    result.data = {
      parameters: { warmup, sequentialCalls, blocks, concurrency, seconds, loadRounds },
      targetCpuUs: TARGET_CPU_US,
      engine,
      latency: lat,
      latencyGatewayCpuMsPerCall: { plain: seqCpu("plain"), off: seqCpu("off"), on: seqCpu("on") },
      throughput: tput,
      difference: {
        p50Ms: lat.on.median - lat.off.median,
        p99Ms: lat.on.p99 - lat.off.p99,
        sequentialCpuMsPerCall: seqCpu("on") - seqCpu("off"),
        loadCpuMsPerCall: tput.on.hopCpuMsPerCall - tput.off.hopCpuMsPerCall,
        throughputRatio: tput.on.callsPerSecond / tput.off.callsPerSecond,
      },
      targetMet: e.engine.cpuUs <= TARGET_CPU_US,
    };
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.allSettled(servers.map((s) => s.stop()));
    await issuer.close();
  }
}
