/**
 * What the URL elicitation tests share: a real MCP SDK server that checks per-user bearer tokens, an
 * SDK client that can be asked by URL elicitation, and the `/tokens` page driven over real HTTP.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import { UrlElicitationRequiredError } from "@modelcontextprotocol/sdk/types.js";
import { assert, assertEquals, assertMatch, assertRejects } from "./assert.ts";
import { serveMcp, text } from "../fixtures/harness.ts";
import { connectClient } from "../sim_helpers.ts";
import { URL_ELICITATION_REQUIRED } from "../../sim/elicitation.ts";
import { type GatewayConfig, normalizeConfig } from "../../sim/mod.ts";

/**
 * A real SDK server that accepts only the bearer tokens in `accepted` (401 otherwise, as a server
 * checking per-user tokens does); `whoami` returns the Authorization header of the call.
 */
export async function tokenServer(accepted: Set<string>) {
  const seen: { method: string; authorization: string | null }[] = [];
  const server = await serveMcp({
    name: "tokens",
    createServer: () => {
      const s = new McpServer({ name: "tokens", version: "1.0.0" });
      s.registerTool(
        "whoami",
        { description: "The Authorization header of this call" },
        (extra) =>
          text(JSON.stringify({ authorization: extra.requestInfo?.headers["authorization"] ?? null })),
      );
      return s;
    },
    intercept: (message, request) => {
      const authorization = request.headers.get("authorization");
      seen.push({ method: String((message as { method?: unknown }).method ?? "response"), authorization });
      if (authorization !== null && accepted.has(authorization)) return undefined;
      return new Response(JSON.stringify({ error: "unauthorized" }), {
        status: 401,
        headers: { "content-type": "application/json", "www-authenticate": 'Bearer realm="tokens"' },
      });
    },
  });
  return { ...server, seen, [Symbol.asyncDispose]: () => server.close() };
}

export const BROKER_CREDENTIAL = "Bearer broker-credential";

/** An SDK client of `url` that can be asked by URL elicitation, as `jwt`'s user. */
export function elicitingClient(url: string, jwt: string) {
  return connectClient(url, {
    headers: { authorization: `Bearer ${jwt}` },
    capabilities: { elicitation: { form: {}, url: {} } },
  });
}

/** Calls `gh_whoami` and returns the -32042 error's one elicitation. */
export async function elicitation(client: Client) {
  const err = await assertRejects(() => client.callTool({ name: "gh_whoami", arguments: {} }));
  assert(err instanceof UrlElicitationRequiredError, `expected -32042, got ${String(err)}`);
  assertEquals(err.code, URL_ELICITATION_REQUIRED);
  assertEquals(err.elicitations.length, 1);
  return err.elicitations[0];
}

/** GETs the token page; returns the CSRF field and cookie. */
export async function openForm(url: string, jwt?: string) {
  const res = await fetch(url, { headers: jwt ? { authorization: `Bearer ${jwt}` } : {} });
  const body = await res.text();
  assertEquals(res.status, 200, body);
  assertMatch(res.headers.get("content-type") ?? "", /^text\/html/);
  const csrf = /name="csrf_token" value="([0-9a-f]{64})"/.exec(body)?.[1];
  assert(csrf, `no csrf_token field in ${body}`);
  const setCookie = res.headers.get("set-cookie") ?? "";
  assertMatch(setCookie, /^csrf=[0-9a-f]{64}; Path=\/tokens; Max-Age=120; HttpOnly; SameSite=Strict$/);
  return { csrf, cookie: setCookie.split(";")[0], body };
}

/** POSTs the token form. */
export async function submit(
  origin: string,
  fields: Record<string, string>,
  opts: { cookie?: string; jwt?: string } = {},
): Promise<{ status: number; body: string }> {
  const res = await fetch(`${origin}/tokens`, {
    method: "POST",
    headers: {
      "content-type": "application/x-www-form-urlencoded",
      ...(opts.cookie ? { cookie: opts.cookie } : {}),
      ...(opts.jwt ? { authorization: `Bearer ${opts.jwt}` } : {}),
    },
    body: new URLSearchParams(fields).toString(),
  });
  return { status: res.status, body: await res.text() };
}

/** The whole page flow for one elicitation: GET the form, POST `token` as `jwt`'s user. */
export async function enterToken(origin: string, url: string, token: string, jwt: string) {
  const id = new URL(url).searchParams.get("elicitation_id")!;
  const { csrf, cookie } = await openForm(url, jwt);
  return await submit(origin, { elicitation_id: id, token, csrf_token: csrf }, { cookie, jwt });
}

export const whoami = (result: unknown) =>
  JSON.parse((result as { content: { text: string }[] }).content[0].text).authorization;

/**
 * One `tokenURLElicitation` server `team/github` (`gh_` tools, the broker credential) at `url`, with
 * the extension's `urlElicitation` on unless `enabled` is false; `external` is the registration's `url`.
 */
export function elicitationConfig(
  url: string,
  opts: { external?: string; enabled?: boolean } = {},
): GatewayConfig {
  return normalizeConfig({
    servers: [{
      name: "team/github",
      url,
      prefix: "gh_",
      credential: BROKER_CREDENTIAL,
      tokenURLElicitation: opts.external ? { url: opts.external } : {},
    }],
    extension: opts.enabled === false ? {} : { urlElicitation: true },
  });
}
