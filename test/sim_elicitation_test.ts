/**
 * URL elicitation end to end (`tokenURLElicitation` with `urlElicitation: Enabled`): a real MCP SDK
 * client gets `-32042`, the `/tokens` form is fetched and posted over real HTTP with its CSRF cookie,
 * and the retried call reaches a real SDK server with the user's token. The client's identity comes
 * from a test policy that verifies a JWT minted here with jose and puts its claims on the request, as
 * an AuthPolicy's `jwt` identity does.
 */
import { jwtVerify, SignJWT } from "jose";
import { assert, assertEquals, assertMatch, assertRejects } from "./helpers/assert.ts";
import {
  BROKER_CREDENTIAL,
  elicitation,
  elicitationConfig,
  elicitingClient,
  enterToken,
  openForm,
  submit,
  tokenServer,
  whoami,
} from "./helpers/elicitation.ts";
import { connectClient, initializeBody, MCP_HEADERS, post } from "./sim_helpers.ts";
import { startGateway } from "../sim/mod.ts";
import type { HttpPolicyInput, PolicyDecision, PolicyInput, RequestPolicy } from "../sim/policy.ts";
import { ELICITATION_UNSUPPORTED } from "../sim/elicitation.ts";

const KEY = new TextEncoder().encode("sim-elicitation-test-key-0123456789abcdef");
const ISSUER = "https://issuer.test";

/** A JWT for `sub`, signed with the test key. */
function mint(sub: string | undefined, expiresIn = "1h"): Promise<string> {
  const jwt = new SignJWT(sub === undefined ? {} : { sub }).setProtectedHeader({ alg: "HS256" })
    .setIssuer(ISSUER).setIssuedAt().setExpirationTime(expiresIn);
  return jwt.sign(KEY);
}

/**
 * A policy that lets through requests with a valid bearer JWT of the test issuer and puts its claims
 * on the request as the verified identity; anything else gets 401.
 */
class BearerJwtPolicy implements RequestPolicy {
  evaluate({ request }: PolicyInput): Promise<PolicyDecision> {
    return this.#verify(request);
  }

  /** The `/tokens` page and other requests without a JSON-RPC message. */
  evaluateRequest({ request }: HttpPolicyInput): Promise<PolicyDecision> {
    return this.#verify(request);
  }

  async #verify(request: Request): Promise<PolicyDecision> {
    const header = request.headers.get("authorization") ?? "";
    if (!header.startsWith("Bearer ")) return { allow: false, status: 401, message: "Unauthorized" };
    try {
      const { payload } = await jwtVerify(header.slice(7), KEY, { issuer: ISSUER });
      return { allow: true, identity: payload };
    } catch {
      return { allow: false, status: 401, message: "Unauthorized" };
    }
  }
}

/** A gateway with one `tokenURLElicitation` server (`gh_` tools), logs kept for inspection. */
async function setup(opts: { url?: string; policy?: RequestPolicy | null; passthrough?: boolean } = {}) {
  const accepted = new Set([BROKER_CREDENTIAL]);
  const upstream = await tokenServer(accepted);
  const logs: string[] = [];
  const gw = await startGateway(
    elicitationConfig(upstream.url, { external: opts.url }),
    {
      ...(opts.policy === null ? {} : { policy: opts.policy ?? new BearerJwtPolicy() }),
      toolCallPassthrough: opts.passthrough ?? true,
      logger: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
    },
  );
  const origin = new URL(gw.url).origin;
  return {
    accepted,
    upstream,
    gw,
    logs,
    origin,
    [Symbol.asyncDispose]: async () => {
      await gw.close();
      await upstream.close();
    },
  };
}

Deno.test("URL elicitation: -32042, the token page with CSRF, then the call carries the user's token", async () => {
  await using env = await setup();
  const alice = await mint("alice");
  await using c = await elicitingClient(env.gw.url, alice);
  const tools = await c.client.listTools();
  assert(
    tools.tools.some((t) => t.name === "gh_whoami"),
    "the server's tools are listed with the broker credential",
  );

  const e = await elicitation(c.client);
  assertEquals(e.mode, "url");
  assertEquals(e.message, "Authorization is required to access this service.");
  assertEquals(e.url, `${env.origin}/tokens?elicitation_id=${e.elicitationId}`);
  assertEquals(env.upstream.seen.filter((s) => s.method === "tools/call").length, 0, "no call went upstream");

  const { body: form } = await openForm(e.url, alice);
  assert(form.includes("<strong>team/github</strong>"), form);
  const userToken = "Bearer alice-upstream-token-4f2a";
  const stored = await enterToken(env.origin, e.url, userToken, alice);
  assertEquals(stored.status, 200, stored.body);
  assert(stored.body.includes("Token Stored") && !stored.body.includes("alice-upstream-token"), stored.body);

  env.accepted.add(userToken);
  const result = await c.client.callTool({ name: "gh_whoami", arguments: {} });
  assertEquals(whoami(result), userToken);
  // Cached: the next call needs no new elicitation.
  assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), userToken);
  const calls = env.upstream.seen.filter((s) => s.method === "tools/call");
  assertEquals(calls.map((s) => s.authorization), [userToken, userToken]);
  // The backend session of this client was opened with the user's token too; the client's own JWT
  // never reached the server.
  assert(!env.upstream.seen.some((s) => s.authorization?.includes(alice)));
  assert(!env.logs.some((l) => l.includes("alice-upstream-token")), env.logs.join("\n"));
});

Deno.test("URL elicitation: CSRF is checked, another user's sub cannot claim the entry, an entry is single use", async () => {
  await using env = await setup();
  const alice = await mint("alice");
  const bob = await mint("bob");
  await using c = await elicitingClient(env.gw.url, alice);
  const e = await elicitation(c.client);
  const id = e.elicitationId;
  const { csrf, cookie } = await openForm(e.url, bob);

  // No cookie, or a field that does not match it: refused before the entry is touched.
  assertEquals(
    await submit(env.origin, { elicitation_id: id, token: "Bearer x", csrf_token: csrf }, { jwt: bob }),
    {
      status: 403,
      body: '{"error":"missing CSRF token"}\n',
    },
  );
  assertEquals(
    (await submit(env.origin, { elicitation_id: id, token: "Bearer x", csrf_token: "0".repeat(64) }, {
      cookie,
      jwt: bob,
    })).body,
    '{"error":"CSRF validation failed"}\n',
  );
  // Without a token the policy itself refuses the page.
  assertEquals(
    (await submit(env.origin, { elicitation_id: id, token: "x", csrf_token: csrf }, { cookie })).status,
    401,
  );

  // Bob's verified sub is not the one the entry was made for: refused, nothing stored, and (as in
  // the broker, which claims before comparing) the entry is used up.
  const stolen = await submit(
    env.origin,
    { elicitation_id: id, token: "Bearer bob-token", csrf_token: csrf },
    {
      cookie,
      jwt: bob,
    },
  );
  assertEquals(stolen, { status: 403, body: '{"error":"identity mismatch"}\n' });
  const late = await enterToken(env.origin, e.url, "Bearer alice-token", alice).catch((err) => err);
  assert(late instanceof Error && late.message.includes("invalid or expired elicitation_id"), String(late));
  env.accepted.add("Bearer bob-token");
  const again = await elicitation(c.client);
  assert(again.elicitationId !== id, "a fresh elicitation id");

  // Alice's own entry: claimed once; the same form posted again finds nothing.
  const form = await openForm(again.url, alice);
  const fields = { elicitation_id: again.elicitationId, token: "Bearer alice-token", csrf_token: form.csrf };
  assertEquals((await submit(env.origin, fields, { cookie: form.cookie, jwt: alice })).status, 200);
  assertEquals(await submit(env.origin, fields, { cookie: form.cookie, jwt: alice }), {
    status: 400,
    body: '{"error":"invalid or expired elicitation_id"}\n',
  });
  env.accepted.add("Bearer alice-token");
  assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), "Bearer alice-token");
});

Deno.test("URL elicitation: the server's 401 deletes the user's token and the next call elicits again", async () => {
  await using env = await setup();
  const alice = await mint("alice");
  await using c = await elicitingClient(env.gw.url, alice);
  const first = await elicitation(c.client);
  env.accepted.add("Bearer good-token");
  assertEquals((await enterToken(env.origin, first.url, "Bearer good-token", alice)).status, 200);
  assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), "Bearer good-token");

  // The server revokes it: this call gets its 401, as the cluster's Envoy passes it through.
  env.accepted.delete("Bearer good-token");
  const refused = await post(env.gw.url, {
    jsonrpc: "2.0",
    id: 7,
    method: "tools/call",
    params: { name: "gh_whoami", arguments: {} },
  }, { "mcp-session-id": c.transport.sessionId!, authorization: `Bearer ${alice}` });
  assertEquals(refused.status, 401);
  assertEquals(refused.json, { error: "unauthorized" });
  // The token is gone: the retry is a new -32042, without asking the server.
  const before = env.upstream.seen.length;
  const second = await elicitation(c.client);
  assert(second.elicitationId !== first.elicitationId);
  assertEquals(env.upstream.seen.length, before);

  // A token the server refuses when the backend session opens is dropped the same way.
  await using fresh = await elicitingClient(env.gw.url, alice);
  const third = await elicitation(fresh.client);
  assertEquals((await enterToken(env.origin, third.url, "Bearer wrong-token", alice)).status, 200);
  const err = await assertRejects(() => fresh.client.callTool({ name: "gh_whoami", arguments: {} }));
  assertEquals((err as Error & { code?: number }).code, 401, String(err));
  await elicitation(fresh.client);
});

Deno.test("URL elicitation: an expired JWT token is a miss, without reaching the server", async () => {
  await using env = await setup();
  const alice = await mint("alice");
  await using c = await elicitingClient(env.gw.url, alice);
  const e = await elicitation(c.client);
  // A user token that is itself a JWT, expired a minute ago (its signature is nobody's business here).
  const expired = await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 60).sign(new TextEncoder().encode("upstream-key"));
  env.accepted.add(`Bearer ${expired}`);
  assertEquals((await enterToken(env.origin, e.url, `Bearer ${expired}`, alice)).status, 200);
  const again = await elicitation(c.client);
  assert(again.elicitationId !== e.elicitationId);
  assert(
    !env.upstream.seen.some((s) => s.authorization?.includes(expired)),
    "the expired token never went out",
  );
});

Deno.test("URL elicitation: a client without the elicitation capability gets the router's tool error", async () => {
  await using env = await setup();
  const alice = await mint("alice");
  await using c = await connectClient(env.gw.url, { headers: { authorization: `Bearer ${alice}` } });
  const result = await c.client.callTool({ name: "gh_whoami", arguments: {} });
  assertEquals(result, { content: [{ type: "text", text: ELICITATION_UNSUPPORTED }], isError: true });
  // Raw: the router's event stream, never -32042.
  const raw = await fetch(env.gw.url, {
    method: "POST",
    headers: {
      ...MCP_HEADERS,
      "mcp-session-id": c.transport.sessionId!,
      "mcp-protocol-version": c.transport.protocolVersion!,
      authorization: `Bearer ${alice}`,
    },
    body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "gh_whoami" } }),
  });
  assertEquals(raw.headers.get("content-type"), "text/event-stream");
  const body = await raw.text();
  assert(body.startsWith("\nevent: message\ndata: ") && !body.includes("-32042"), body);
  // A bearer JWT without a sub is the router's error too (the policy here accepts it).
  const nobody = await mint(undefined);
  await using n = await elicitingClient(env.gw.url, nobody);
  const r = await n.client.callTool({ name: "gh_whoami", arguments: {} });
  assertEquals(
    (r as { content: { text: string }[] }).content[0].text,
    "authorization token missing sub claim: JWT has no sub claim",
  );
});

Deno.test("URL elicitation: an external url gets ?elicitation_id= appended", async () => {
  await using env = await setup({ url: "https://vault.example.com/ui/tokens" });
  const alice = await mint("alice");
  await using c = await elicitingClient(env.gw.url, alice);
  const e = await elicitation(c.client);
  assertEquals(e.url, `https://vault.example.com/ui/tokens?elicitation_id=${e.elicitationId}`);
});

Deno.test("URL elicitation: without a policy the page serves unbound entries, with a loud warning", async () => {
  await using env = await setup({ policy: null });
  assert(
    env.logs.some((l) => l.startsWith("warn URL elicitation is enabled for team/github")),
    env.logs.join("\n"),
  );
  await using c = await elicitingClient(env.gw.url, "not-a-jwt");
  const e = await elicitation(c.client);
  // No identity binds the entry: anyone holding the URL may set the token, as in the cluster.
  const { csrf, cookie } = await openForm(e.url);
  const stored = await submit(env.origin, {
    elicitation_id: e.elicitationId,
    token: "Bearer t",
    csrf_token: csrf,
  }, {
    cookie,
  });
  assertEquals(stored.status, 200);
  env.accepted.add("Bearer t");
  assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), "Bearer t");
  assert(env.logs.some((l) => l.includes("carries no user identity")), env.logs.join("\n"));
});

Deno.test("URL elicitation: off unless the extension enables it; then /tokens is 404 and calls use the credential", async () => {
  const accepted = new Set([BROKER_CREDENTIAL]);
  await using upstream = await tokenServer(accepted);
  await using gw = await startGateway(elicitationConfig(upstream.url, { enabled: false }));
  await using c = await elicitingClient(gw.url, await mint("alice"));
  assertEquals(whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })), BROKER_CREDENTIAL);
  const page = await fetch(`${new URL(gw.url).origin}/tokens?elicitation_id=x`);
  await page.body?.cancel();
  assertEquals(page.status, 404);
});

Deno.test("URL elicitation: the SDK path (no pass-through) elicits and calls with the user's token too", async () => {
  await using env = await setup({ passthrough: false });
  const alice = await mint("alice");
  await using c = await elicitingClient(env.gw.url, alice);
  const e = await elicitation(c.client);
  env.accepted.add("Bearer sdk-path-token");
  assertEquals((await enterToken(env.origin, e.url, "Bearer sdk-path-token", alice)).status, 200);
  assertEquals(
    whoami(await c.client.callTool({ name: "gh_whoami", arguments: {} })),
    "Bearer sdk-path-token",
  );
  assertEquals(
    env.upstream.seen.filter((s) => s.method === "tools/call").map((s) => s.authorization),
    ["Bearer sdk-path-token"],
  );
});

Deno.test("URL elicitation: a 2025-03-26 batch cannot carry a call that needs the user's token", async () => {
  await using env = await setup();
  const auth = { authorization: `Bearer ${await mint("alice")}` };
  const init = await post(env.gw.url, initializeBody("2025-03-26", 0, { elicitation: {} }), auth);
  const headers = {
    ...auth,
    "mcp-session-id": init.headers.get("mcp-session-id")!,
    "mcp-protocol-version": "2025-03-26",
  };
  assertEquals(
    (await post(env.gw.url, { jsonrpc: "2.0", method: "notifications/initialized" }, headers)).status,
    202,
  );
  const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "gh_whoami", arguments: {} } };
  const batch = await post(env.gw.url, JSON.stringify([call]), headers);
  assertEquals(batch.status, 400);
  assertMatch(String((batch.json?.error as { message: string }).message), /needs the user's own token/);
  assertEquals(env.upstream.seen.filter((s) => s.method === "tools/call").length, 0);
});
