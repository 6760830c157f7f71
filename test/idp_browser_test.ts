/**
 * The dev identity provider's login page in a real browser: Debian's headless Chromium, driven
 * over the DevTools protocol (a WebSocket from Deno to its --remote-debugging-port). The page
 * renders, lists the users (their claims escaped, never run as HTML), and a click completes the
 * authorization code + PKCE login: the browser lands on the client's redirect URI with a code the
 * token endpoint exchanges for the user's token.
 */
import { decodeJwt } from "jose";
import { assert, assertEquals } from "./helpers/assert.ts";
import { startDevIdp } from "../src/idp/mod.ts";

/** Chromium from Debian (test/setup_packages.sh installs it); missing is a failure, with its reason. */
function chromiumPath(): string {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    for (const name of ["chromium", "chromium-browser"]) {
      try {
        if (Deno.statSync(`${dir}/${name}`).isFile) return `${dir}/${name}`;
      } catch {
        // Not here.
      }
    }
  }
  throw new Error(
    "chromium is not on PATH: the login page is checked in a real browser; install it with " +
      "`apt-get install -y chromium` (test/setup_packages.sh does when run as root)",
  );
}

/** A DevTools protocol connection: commands by id, to the browser or to one attached page. */
class DevTools {
  #ws: WebSocket;
  #next = 1;
  #pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.onmessage = (event) => {
      const message = JSON.parse(String(event.data));
      const waiter = message.id !== undefined ? this.#pending.get(message.id) : undefined;
      if (!waiter) return;
      this.#pending.delete(message.id);
      if (message.error) waiter.reject(new Error(`DevTools: ${JSON.stringify(message.error)}`));
      else waiter.resolve(message.result);
    };
    ws.onclose = () => {
      for (const waiter of this.#pending.values()) waiter.reject(new Error("DevTools connection closed"));
      this.#pending.clear();
    };
  }
  static async connect(url: string): Promise<DevTools> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.onopen = () => resolve();
      ws.onerror = () => reject(new Error(`cannot connect to ${url}`));
    });
    return new DevTools(ws);
  }
  send<T = Record<string, unknown>>(method: string, params: unknown = {}, sessionId?: string): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.#ws.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    });
  }
  /** Evaluates `expression` in the page and returns its value (JSON-serializable). */
  async evaluate<T>(sessionId: string, expression: string): Promise<T> {
    const result = await this.send<{ result: { value?: T }; exceptionDetails?: unknown }>(
      "Runtime.evaluate",
      { expression, returnByValue: true, awaitPromise: true },
      sessionId,
    );
    if (result.exceptionDetails) throw new Error(`page error: ${JSON.stringify(result.exceptionDetails)}`);
    return result.result.value as T;
  }
  close(): void {
    this.#ws.close();
  }
}

/** Starts headless Chromium with a fresh profile; returns its browser DevTools URL. */
async function startChromium(profile: string) {
  const child = new Deno.Command(chromiumPath(), {
    args: [
      "--headless",
      "--no-sandbox", // tests run as root in a container
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--remote-debugging-address=127.0.0.1",
      "--remote-debugging-port=0",
      `--user-data-dir=${profile}`,
      "about:blank",
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const deadline = Date.now() + 30_000;
  let url: string | undefined;
  while (!url && Date.now() < deadline) {
    const chunk = await Promise.race([
      reader.read(),
      new Promise<{ done: true; value: undefined }>((r) =>
        setTimeout(() => r({ done: true, value: undefined }), 30_000)
      ),
    ]);
    if (chunk.done) break;
    stderr += chunk.value;
    url = /DevTools listening on (ws:\/\/\S+)/.exec(stderr)?.[1];
  }
  // Keep draining stderr so Chromium never blocks on a full pipe.
  const drain = (async () => {
    try {
      for (;;) if ((await reader.read()).done) break;
    } catch {
      // Closed.
    }
  })();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await drain;
  };
  if (!url) {
    await stop();
    throw new Error(`chromium did not start its DevTools endpoint within 30 s:\n${stderr}`);
  }
  return { url, stop };
}

/** Polls `check` every 100 ms until it returns a value, at most `timeoutMs`. */
async function waitUntil<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < timeoutMs / 100 && Date.now() < deadline; attempt++) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
}

const b64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

Deno.test("dev identity provider: headless Chromium renders the login page, lists the users and completes a login", async () => {
  const hostile = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>';
  await using idp = await startDevIdp({
    users: {
      alice: { groups: ["travel", hostile] },
      bob: { groups: ["engineering"] },
    },
  });

  // The client's redirect URI: a loopback server that records the code the browser brings back.
  let received: URL | undefined;
  await using callback = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const url = new URL(req.url);
    // Only the redirect counts: the browser also asks this origin for /favicon.ico, which would
    // otherwise overwrite the code it brought back (seen once under load).
    if (url.pathname !== "/callback") return new Response(null, { status: 404 });
    received ??= url;
    return new Response("<!DOCTYPE html><title>done</title><p>Signed in.</p>", {
      headers: { "content-type": "text/html" },
    });
  });
  const redirectUri = `http://127.0.0.1:${callback.addr.port}/callback`;
  const registered = await fetch(`${idp.issuer}/reg`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      client_name: "Browser <check>",
      redirect_uris: [redirectUri],
      token_endpoint_auth_method: "none",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    }),
  });
  assertEquals(registered.status, 201);
  const clientId = (await registered.json()).client_id as string;
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = b64url(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier))),
  );
  const resource = "http://127.0.0.1:8080/mcp";
  const authorization = new URL(`${idp.issuer}/auth`);
  authorization.search = new URLSearchParams({
    client_id: clientId,
    response_type: "code",
    redirect_uri: redirectUri,
    scope: "openid basic",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state: "browser-state",
    resource,
  }).toString();

  const profile = await Deno.makeTempDir({ prefix: "kubectl-mcp-chromium-" });
  const chromium = await startChromium(profile);
  const devtools = await DevTools.connect(chromium.url);
  try {
    const { targetId } = await devtools.send<{ targetId: string }>("Target.createTarget", {
      url: authorization.href,
    });
    const { sessionId } = await devtools.send<{ sessionId: string }>("Target.attachToTarget", {
      targetId,
      flatten: true,
    });
    // Rendered: the login page, with one button per user.
    const page = await waitUntil(
      "the login page",
      () =>
        devtools.evaluate<{ title: string; users: string[]; text: string; heading: string } | null>(
          sessionId,
          `document.readyState === "complete" && document.querySelectorAll("button[name=user]").length
          ? { title: document.title, heading: document.querySelector("h1").innerText,
              users: [...document.querySelectorAll("button[name=user]")].map((b) => b.value),
              text: document.body.innerText }
          : null`,
        ).then((v) => v ?? undefined),
    );
    assertEquals(page.title, "Sign in: kubectl mcp dev identity provider");
    assertEquals(page.users, ["alice", "bob"]);
    assertEquals(page.heading, "Sign in for Browser <check>");
    // The claims are shown as text; the markup in them never ran.
    assert(page.text.includes(hostile), page.text);
    assertEquals(
      await devtools.evaluate(sessionId, "window.pwned === undefined && !document.querySelector('img')"),
      true,
    );
    const layout = await devtools.evaluate<{ width: number; height: number }>(
      sessionId,
      `(() => { const r = document.querySelector("button[value=alice]").getBoundingClientRect();
        return { width: r.width, height: r.height }; })()`,
    );
    assert(layout.width > 100 && layout.height > 20, `the button is laid out: ${JSON.stringify(layout)}`);

    // A click on alice: the form posts, the provider redirects back to the client with a code.
    await devtools.evaluate(sessionId, `document.querySelector("button[value=alice]").click()`);
    const back = await waitUntil("the redirect to the client", () => Promise.resolve(received));
    assertEquals(back.searchParams.get("state"), "browser-state");
    const code = back.searchParams.get("code");
    assert(code, `a code in ${back.search}`);
    assertEquals(
      await waitUntil(
        "the callback page",
        () =>
          devtools.evaluate<string | null>(
            sessionId,
            `location.pathname === "/callback" && document.readyState === "complete" ? document.title : null`,
          )
            .then((v) => v ?? undefined),
      ),
      "done",
    );

    const tokenResponse = await fetch(`${idp.issuer}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        client_id: clientId,
        code_verifier: verifier,
        resource,
      }),
    });
    const body = await tokenResponse.json();
    assertEquals(tokenResponse.status, 200, JSON.stringify(body));
    const claims = decodeJwt(body.access_token);
    assertEquals([claims.iss, claims.sub, claims.aud], [idp.issuer, "alice", resource]);
    assertEquals(claims.groups, ["travel", hostile]);
  } finally {
    devtools.close();
    await chromium.stop();
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
});
