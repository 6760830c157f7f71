/**
 * Logging in at the dev identity provider (`simulate --dev-idp`) the way a browser does, over plain
 * HTTP: follow the authorization request's redirects with a cookie jar to the login page, read the
 * users it lists from its HTML, submit its form for one of them, and follow the redirects back to the
 * client's `redirect_uri`.
 *
 * @module
 */

/** What one login saw and where it ended. */
export interface HttpLogin {
  /** The users the login page listed (its buttons' values), in page order. */
  listed: string[];
  /** The login page's HTML. */
  page: string;
  /** The redirect to the client's `redirect_uri` (with `code`, or `error`), not followed. */
  callback: URL;
}

/** A cookie jar for one origin, every path. */
export class CookieJar {
  /** Keeps the cookies `res` sets (and forgets the ones it expires). */
  #cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (value === "" || /expires=Thu, 01 Jan 1970/i.test(line)) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }
  /** The `cookie` request header. */
  header(): string {
    return [...this.#cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

const unescape = (text: string) =>
  text.replace(/&#(\d+);/g, (_, code) => String.fromCharCode(Number(code))).replace(/&amp;/g, "&");

/**
 * Logs in as `user` for `authorizationUrl` (at most 12 hops). Fails when the page does not list
 * `user`, or the provider answers something a browser would stop at.
 */
export async function loginOverHttp(authorizationUrl: string | URL, user: string): Promise<HttpLogin> {
  const jar = new CookieJar();
  let url = new URL(authorizationUrl);
  const idp = url.origin;
  let page = "";
  let listed: string[] = [];
  let request: RequestInit = {};
  for (let hop = 0; hop < 12; hop++) {
    const res = await fetch(url, {
      ...request,
      redirect: "manual",
      headers: { ...request.headers, cookie: jar.header() },
    });
    jar.take(res);
    request = {};
    const location = res.headers.get("location");
    if (res.status >= 300 && res.status < 400 && location) {
      await res.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== idp) return { listed, page, callback: next };
      url = next;
      continue;
    }
    const text = await res.text();
    if (res.status !== 200 || !/<form /.test(text)) {
      throw new Error(`The provider answered ${res.status} at ${url.pathname}: ${text.slice(0, 300)}`);
    }
    page = text;
    listed = [...text.matchAll(/<button[^>]* name="user" value="([^"]*)"/g)].map((m) => unescape(m[1]));
    if (!listed.includes(user)) throw new Error(`The login page lists ${listed.join(", ")}, not ${user}.`);
    const action = /<form method="post" action="([^"]*)"/.exec(text)?.[1];
    if (!action) throw new Error("The login page has no form.");
    url = new URL(unescape(action), url);
    request = {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ user }).toString(),
    };
  }
  throw new Error(`Logging in ${user} took more than 12 hops.`);
}
