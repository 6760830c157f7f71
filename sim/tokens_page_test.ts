import { assert, assertEquals } from "../test/helpers/assert.ts";
import { UrlElicitation } from "./elicitation.ts";
import { allowAll } from "./policy.ts";
import { escapeHtml, MAX_FORM_BYTES, MAX_TOKEN_BYTES, TokensPage } from "./tokens_page.ts";

const ORIGIN = "http://127.0.0.1:8080";

/** A page over fresh state; `live` sessions may take tokens. */
function page(live = new Set(["s"])) {
  const elicitation = new UrlElicitation();
  const logs: string[] = [];
  const tokens = new TokensPage({
    elicitation,
    policy: allowAll,
    sessionTtlMs: (id) => Promise.resolve(live.has(id) ? 60_000 : 0),
    log: (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
  });
  return { elicitation, tokens, logs };
}

/** The form of entry `id`: its CSRF field and cookie. */
async function form(tokens: TokensPage, id: string) {
  const res = await tokens.handle(new Request(`${ORIGIN}/tokens?elicitation_id=${encodeURIComponent(id)}`));
  const body = await res.text();
  assertEquals(res.status, 200, body);
  const csrf = /name="csrf_token" value="([0-9a-f]{64})"/.exec(body)![1];
  return { csrf, cookie: `csrf=${csrf}`, body, headers: res.headers };
}

function postForm(fields: Record<string, string> | string, cookie?: string, contentType?: string) {
  return new Request(`${ORIGIN}/tokens`, {
    method: "POST",
    headers: {
      "content-type": contentType ?? "application/x-www-form-urlencoded",
      ...(cookie ? { cookie } : {}),
    },
    body: typeof fields === "string" ? fields : new URLSearchParams(fields).toString(),
  });
}

const json = async (res: Response) => ({ status: res.status, body: await res.text() });

Deno.test("escapeHtml escapes as Go's html/template", () => {
  assertEquals(escapeHtml(`<a href="x">'&+\0`), "&lt;a href=&#34;x&#34;&gt;&#39;&amp;&#43;\uFFFD");
});

Deno.test("tokens page: the form escapes what it shows, sets the CSRF cookie and no referrer", async () => {
  const { elicitation, tokens } = page();
  const id = elicitation.entries.store({ sessionId: "s", server: `ns/<script>alert(1)</script>`, sub: "" });
  const { body, headers } = await form(tokens, id);
  assert(body.includes("<strong>ns/&lt;script&gt;alert(1)&lt;/script&gt;</strong>"), body);
  assert(!body.includes("<script>"), body);
  assertEquals(headers.get("referrer-policy"), "no-referrer");
  assertEquals(headers.get("content-type"), "text/html; charset=utf-8");
  const secure = await tokens.handle(
    new Request(`${ORIGIN}/tokens?elicitation_id=${id}`, { headers: { "x-forwarded-proto": "https" } }),
  );
  assert(secure.headers.get("set-cookie")!.includes("; Secure;"), secure.headers.get("set-cookie")!);
  await secure.body?.cancel();
  assertEquals(await json(await tokens.handle(new Request(`${ORIGIN}/tokens`))), {
    status: 400,
    body: '{"error":"missing elicitation_id parameter"}\n',
  });
  assertEquals(
    (await json(await tokens.handle(new Request(`${ORIGIN}/tokens?elicitation_id=nope`)))).body,
    '{"error":"invalid or expired elicitation_id"}\n',
  );
  assertEquals(
    (await json(await tokens.handle(new Request(`${ORIGIN}/tokens`, { method: "PUT" })))).status,
    405,
  );
});

Deno.test("tokens page: body cap, token length and characters, in the broker's order; the token never echoed", async () => {
  const { elicitation, tokens, logs } = page();
  const id = elicitation.entries.store({ sessionId: "s", server: "ns/a", sub: "" });
  const { csrf, cookie } = await form(tokens, id);
  const base = { elicitation_id: id, csrf_token: csrf };
  const huge = `${new URLSearchParams({ ...base, token: "x" })}&pad=${"p".repeat(MAX_FORM_BYTES)}`;
  assertEquals(await json(await tokens.handle(postForm(huge, cookie))), {
    status: 400,
    body: '{"error":"invalid form data"}\n',
  });
  const tooLong = "t".repeat(MAX_TOKEN_BYTES + 1);
  assertEquals(
    (await json(await tokens.handle(postForm({ ...base, token: tooLong }, cookie)))).body,
    '{"error":"token exceeds maximum length"}\n',
  );
  for (const bad of ["Bearer a\r\nX-Injected: 1", "a\nb", "a\x01b"]) {
    const r = await json(await tokens.handle(postForm({ ...base, token: bad }, cookie)));
    assertEquals(r.body, '{"error":"token contains invalid characters"}\n');
  }
  assertEquals(
    (await json(await tokens.handle(postForm({ ...base, token: "" }, cookie)))).body,
    '{"error":"missing token"}\n',
  );
  // A form posted as something else has no fields: the CSRF check fails first.
  assertEquals(
    (await json(await tokens.handle(postForm({ ...base, token: "x" }, cookie, "text/plain")))).body,
    '{"error":"CSRF validation failed"}\n',
  );
  // None of that used the entry up; a tab is allowed; the success page names the server only.
  const secret = "Bearer s3cr3t\tvalue";
  const ok = await json(await tokens.handle(postForm({ ...base, token: secret }, cookie)));
  assertEquals(ok.status, 200);
  assert(ok.body.includes("<strong>ns/a</strong>") && !ok.body.includes("s3cr3t"), ok.body);
  assertEquals(elicitation.tokens.get("s", "ns/a"), secret);
  assert(!logs.some((l) => l.includes("s3cr3t")), logs.join("\n"));
});

Deno.test("tokens page: a sub-bound entry needs that sub; an ended session takes no token", async () => {
  const { elicitation, tokens } = page();
  const bound = elicitation.entries.store({ sessionId: "s", server: "ns/a", sub: "alice" });
  let f = await form(tokens, bound);
  assertEquals(
    (await json(
      await tokens.handle(postForm({ elicitation_id: bound, csrf_token: f.csrf, token: "x" }, f.cookie)),
    ))
      .body,
    '{"error":"no identity found in request"}\n',
  );
  const gone = elicitation.entries.store({ sessionId: "ended", server: "ns/a", sub: "" });
  f = await form(tokens, gone);
  assertEquals(
    await json(
      await tokens.handle(postForm({ elicitation_id: gone, csrf_token: f.csrf, token: "x" }, f.cookie)),
    ),
    { status: 400, body: '{"error":"invalid or expired session"}\n' },
  );
  assertEquals(elicitation.tokens.size, 0);
});
