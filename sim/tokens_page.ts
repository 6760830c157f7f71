/**
 * The `/tokens` page where a user enters their token for a server, as broker v0.9.0 serves it
 * (internal/broker/tokens.go and templates/):
 *
 * - `GET /tokens?elicitation_id=<id>`: a form naming the server, with the id and a CSRF token in
 *   hidden fields; the same CSRF token in a `csrf` cookie (`Path=/tokens`, two minutes, HttpOnly,
 *   SameSite=Strict, Secure over https). The entry stays claimable.
 * - `POST /tokens` (a form, at most 4096 bytes): the cookie and the field must match (constant-time),
 *   then the token is checked (at most 2048 bytes, no control characters but tab) and the entry is
 *   claimed (once: a second POST finds nothing). An entry bound to a `sub` needs the same verified
 *   `sub` on this request; a mismatch is refused and, as in the broker, the entry is used up.
 *
 * Errors are the broker's JSON `{"error": "..."}` with its status codes. Values on the page are
 * escaped as Go's html/template escapes them. The token is never logged, echoed or put in an error.
 *
 * The request's identity comes from the gateway's policy on the tokens route (`evaluateRequest`), as
 * the router's `x-mcp-verified-sub` comes from the AuthPolicy-verified `Authorization` in the
 * cluster; without one, from the `Bearer` JWT as the router reads it. A request the policy denies
 * gets the policy's answer. Without a policy no `sub` binds an entry, as in a cluster without
 * AuthPolicy: the gateway warns about that at start-up and the first time it elicits.
 *
 * @module
 */
import { readBody } from "./backend_fetch.ts";
import type { UrlElicitation } from "./elicitation.ts";
import { userSub } from "./elicitation.ts";
import { denied } from "./mcp_endpoint.ts";
import type { Logger } from "./options.ts";
import type { RequestPolicy } from "./policy.ts";

/** Longest token accepted, in bytes (the broker's `maxTokenLength`). */
export const MAX_TOKEN_BYTES = 2048;

/** Largest form body accepted, in bytes (the broker's `MaxBytesReader`). */
export const MAX_FORM_BYTES = 4096;

/** Lifetime of the CSRF cookie, in seconds. */
const CSRF_MAX_AGE_S = 120;

/** What the page needs. */
export interface TokensPageOptions {
  /** The gateway's elicitation state. */
  elicitation: UrlElicitation;
  /** The gateway's policy: who is asking. */
  policy: RequestPolicy;
  /** How long a token stored now for `sessionId` may live, in ms; 0 or less when the session is gone. */
  sessionTtlMs(sessionId: string): Promise<number>;
  /** Diagnostics (never a token). */
  log: Logger;
}

/** Go html/template's escaping of text and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[\0"&'+<>]/g, (c) =>
    ({
      "\0": "\uFFFD",
      '"': "&#34;",
      "&": "&amp;",
      "'": "&#39;",
      "+": "&#43;",
      "<": "&lt;",
      ">": "&gt;",
    })[c]!);
}

/** The broker's `sendError`: JSON with a newline, as Go's `json.Encoder` writes it. */
function pageError(status: number, error: string): Response {
  return new Response(`${JSON.stringify({ error })}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

const html = (body: string, headers: Record<string, string> = {}) =>
  new Response(body, { headers: { "content-type": "text/html; charset=utf-8", ...headers } });

const STYLE_FORM =
  "<style>body{font-family:system-ui,sans-serif;max-width:480px;margin:40px auto;padding:0 20px}\n" +
  "h1{font-size:1.4em}form{margin-top:20px}label{display:block;margin-bottom:6px;font-weight:600}\n" +
  "input[type=password]{width:100%;padding:8px;box-sizing:border-box;border:1px solid #ccc;border-radius:4px}\n" +
  "button{margin-top:12px;padding:8px 20px;background:#0066cc;color:#fff;border:none;border-radius:4px;cursor:pointer}\n" +
  "button:hover{background:#0052a3}</style>";

/** The broker's `token_form.html`. */
function formPage(server: string, elicitationId: string, csrf: string): string {
  return "<!DOCTYPE html>\n" +
    `<html><head><title>MCP Gateway - Token Required</title>\n${STYLE_FORM}</head>\n` +
    "<body><h1>Token Required</h1>\n" +
    `<p>The MCP server <strong>${escapeHtml(server)}</strong> requires a token to proceed.</p>\n` +
    '<form method="POST" action="/tokens">\n' +
    `<input type="hidden" name="elicitation_id" value="${escapeHtml(elicitationId)}">\n` +
    `<input type="hidden" name="csrf_token" value="${escapeHtml(csrf)}">\n` +
    '<label for="token">Token or API Key</label>\n' +
    '<input type="password" id="token" name="token" required placeholder="Enter your token or API key">\n' +
    '<button type="submit">Submit</button>\n' +
    "</form></body></html>\n";
}

/** The broker's `token_success.html`. */
function successPage(server: string): string {
  return "<!DOCTYPE html>\n" +
    "<html><head><title>MCP Gateway - Token Stored</title>\n" +
    "<style>body{font-family:system-ui,sans-serif;max-width:480px;margin:40px auto;padding:0 20px}\n" +
    "h1{font-size:1.4em;color:#2e7d32}</style></head>\n" +
    "<body><h1>Token Stored</h1>\n" +
    `<p>Your token for <strong>${escapeHtml(server)}</strong> has been stored. ` +
    "You can close this window and retry the tool call.</p>\n" +
    "</body></html>\n";
}

/** The broker's `isValidToken`: no CR, LF or other control character but tab (header injection). */
function validToken(token: string): boolean {
  for (const ch of token) {
    const c = ch.codePointAt(0)!;
    if (c === 0x0d || c === 0x0a || (c < 0x20 && c !== 0x09)) return false;
  }
  return true;
}

/** Compares two strings in time that depends on their lengths only. */
function constantTimeEqual(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

/** The value of cookie `name` in a `Cookie` header (the first one, as Go's `r.Cookie`). */
function cookie(header: string | null, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const at = part.indexOf("=");
    if (at < 0) continue;
    if (part.slice(0, at).trim() !== name) continue;
    let v = part.slice(at + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** Serves `/tokens`. */
export class TokensPage {
  #o: TokensPageOptions;

  /** A page over `opts`. */
  constructor(opts: TokensPageOptions) {
    this.#o = opts;
  }

  /** Handles one request to `/tokens`. */
  async handle(req: Request): Promise<Response> {
    if (req.method !== "GET" && req.method !== "POST") return pageError(405, "method not allowed");
    // No JSON-RPC message, so no x-mcp-* header; the gateway's policy on the tokens route still runs.
    const decision = await this.#o.policy.evaluateRequest?.({ request: req, rule: "tokens" });
    if (decision && !decision.allow) return denied(decision, null);
    const identity = decision?.allow ? decision.identity : undefined;
    return req.method === "GET" ? this.#get(req) : await this.#post(req, identity);
  }

  #get(req: Request): Response {
    const id = new URL(req.url).searchParams.get("elicitation_id") ?? "";
    if (!id) return pageError(400, "missing elicitation_id parameter");
    const entry = this.#o.elicitation.entries.lookup(id);
    if (!entry) return pageError(400, "invalid or expired elicitation_id");
    const csrf = Array.from(
      crypto.getRandomValues(new Uint8Array(32)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("");
    const secure = new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https";
    return html(formPage(entry.server, id, csrf), {
      "set-cookie": `csrf=${csrf}; Path=/tokens; Max-Age=${CSRF_MAX_AGE_S}; HttpOnly${
        secure ? "; Secure" : ""
      }; SameSite=Strict`,
      "referrer-policy": "no-referrer",
    });
  }

  async #post(req: Request, identity: unknown): Promise<Response> {
    // Over the cap (or broken off) is the broker's MaxBytesReader failing ParseForm.
    const body = await readBody(req.body, MAX_FORM_BYTES, { server: "/tokens", what: "the token form" })
      .catch(() => undefined);
    if (body === undefined) return pageError(400, "invalid form data");
    // Go's FormValue: the urlencoded body first, then the query string.
    const ct = (req.headers.get("content-type") ?? "").split(";")[0].trim().toLowerCase();
    let form: URLSearchParams;
    try {
      form = new URLSearchParams(
        ct === "application/x-www-form-urlencoded"
          ? new TextDecoder("utf-8", { fatal: true }).decode(body)
          : "",
      );
    } catch {
      return pageError(400, "invalid form data");
    }
    const query = new URL(req.url).searchParams;
    const value = (name: string) => form.get(name) ?? query.get(name) ?? "";

    const csrfCookie = cookie(req.headers.get("cookie"), "csrf");
    if (!csrfCookie) return pageError(403, "missing CSRF token");
    const csrfForm = value("csrf_token");
    if (!csrfForm || !constantTimeEqual(csrfForm, csrfCookie)) {
      return pageError(403, "CSRF validation failed");
    }
    const id = value("elicitation_id");
    if (!id) return pageError(400, "missing elicitation_id");
    const token = value("token");
    if (!token) return pageError(400, "missing token");
    if (new TextEncoder().encode(token).byteLength > MAX_TOKEN_BYTES) {
      return pageError(400, "token exceeds maximum length");
    }
    if (!validToken(token)) return pageError(400, "token contains invalid characters");

    const { elicitation, log } = this.#o;
    const entry = elicitation.entries.claim(id);
    if (!entry) return pageError(400, "invalid or expired elicitation_id");
    if (entry.sub) {
      const who = userSub(identity, req.headers.get("authorization"));
      const sub = "sub" in who ? who.sub : "";
      if (!sub) return pageError(403, "no identity found in request");
      if (sub !== entry.sub) {
        log("warn", `Token page: identity mismatch for ${entry.server}; the elicitation is used up.`, {
          expected: entry.sub,
          got: sub,
        });
        return pageError(403, "identity mismatch");
      }
    }
    const ttl = await this.#o.sessionTtlMs(entry.sessionId);
    if (ttl <= 0) return pageError(400, "invalid or expired session");
    elicitation.tokens.set(entry.sessionId, entry.server, token, ttl);
    log("info", `Stored a user token for ${entry.server}.`, { server: entry.server });
    return html(successPage(entry.server));
  }
}
