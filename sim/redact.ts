/**
 * Keeping credentials out of error text. A credential travels as an HTTP header value, and fetch's
 * `Headers` quotes a value it refuses in its error (`Invalid header value: "Bearer abc\r\n..."`), so
 * such errors are redacted before they reach a terminal, a log, `/status` or `/metrics`; and values
 * that would be refused are caught where they are loaded, by {@link headerValueProblem}.
 *
 * No imports: both the gateway and the CLI's error printing use this module.
 *
 * @module
 */

/**
 * Why `value` cannot be sent as an HTTP header value, or undefined when it can. A header value is
 * tabs, spaces, visible ASCII and the bytes 0x80..0xFF (RFC 9110 field-value); as text that is
 * Latin-1 without control characters, which is what fetch's `Headers` accepts (it also refuses
 * nothing this accepts) and what the cluster's gateway sends. The reason names the kind of
 * character only, never the value or the character itself when it could be part of a secret.
 */
export function headerValueProblem(value: string): string | undefined {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code === 0x09 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff)) continue;
    if (code === 0x0d) return "it contains a carriage return";
    if (code === 0x0a) return "it contains a line feed";
    if (code === 0x00) return "it contains a NUL character";
    if (code < 0x20 || code === 0x7f) {
      return `it contains the control character U+${code.toString(16).toUpperCase().padStart(4, "0")}`;
    }
    return "it contains a character outside Latin-1";
  }
  return undefined;
}

/**
 * `not a valid HTTP header value: <why> (the value is not shown)` when `value` cannot be sent as
 * one (see {@link headerValueProblem}), else undefined: the end of an error that names the flag,
 * Secret or field the value came from.
 */
export function invalidHeaderValue(value: string): string | undefined {
  const problem = headerValueProblem(value);
  return problem && `not a valid HTTP header value: ${problem} (the value is not shown)`;
}

/** Options of {@link redactHeaderValues}. */
export interface RedactOptions {
  /** The header the value was for, when the caller knows it; named in place of the value. */
  header?: string;
}

/** What Deno's `Headers` error says before the quoted value: `Invalid header value: "VALUE"`. */
const DENO_PREFIX = "Invalid header value: ";
/** What undici's (Node's fetch) says after it: `Headers.append: "VALUE" is an invalid header value.` */
const UNDICI_SUFFIX = '" is an invalid header value';

/**
 * `text` with every header value that fetch or `Headers` quoted in an error replaced by a note that
 * names the header (when `options.header` says which) and says the value is not shown. Text
 * without such a quote is returned unchanged. A value may hold quotes, so the cut runs to the last
 * quote after Deno's prefix (to the end when there is none) and from the first quote before
 * undici's suffix: cutting too much is safe, too little is not. Linear in the text's length (it
 * may be a backend's), never a backtracking regular expression.
 */
export function redactHeaderValues(text: string, options: RedactOptions = {}): string {
  const which = options.header ? ` for ${options.header}` : "";
  let out = text;
  const deno = out.indexOf(DENO_PREFIX);
  if (deno >= 0) {
    const last = out.lastIndexOf('"');
    const end = last >= deno + DENO_PREFIX.length + 1 ? last + 1 : out.length;
    out = `${out.slice(0, deno)}Invalid header value${which} (not shown)${out.slice(end)}`;
  }
  const undici = out.lastIndexOf(UNDICI_SUFFIX);
  const first = out.indexOf('"');
  if (undici >= 0 && first >= 0 && first < undici) {
    out = `${out.slice(0, first)}the value${which} (not shown)${out.slice(undici + 1)}`;
  }
  return out;
}

/** The message of any thrown value, with header values redacted (see {@link redactHeaderValues}). */
export function redactedMessage(err: unknown, options: RedactOptions = {}): string {
  return redactHeaderValues(err instanceof Error ? err.message : String(err), options);
}

/** Shortest value {@link redactValues} looks for: shorter ones would cut ordinary words out of messages. */
const MIN_SECRET_LENGTH = 8;
/** How much of a value's start marks it where a message shortened it (OPA cuts long strings with `...`). */
const SECRET_PREFIX_LENGTH = 16;
/** Request headers that may carry a credential, by a word in their name. */
export const CREDENTIAL_HEADER = /auth|token|key|secret|session|cookie|passw|credential/i;

/**
 * The values of a request that may be credentials: every header whose name says it may carry one
 * (`authorization`, `cookie`, `x-api-key`, `x-mcp-authorized`, ...), also without a scheme (the part
 * after `Bearer `) and cookie by cookie, and every query parameter. Values shorter than eight
 * characters are left out (see {@link redactValues}).
 */
export function requestSecrets(headers: Headers, url?: string): string[] {
  const out = new Set<string>();
  const add = (value: string) => {
    const trimmed = value.trim();
    if (trimmed.length >= MIN_SECRET_LENGTH) out.add(trimmed);
  };
  headers.forEach((value, name) => {
    if (!CREDENTIAL_HEADER.test(name)) return;
    add(value);
    const space = value.indexOf(" ");
    if (space > 0) add(value.slice(space + 1));
    if (name === "cookie") {
      for (const pair of value.split(";")) add(pair.slice(pair.indexOf("=") + 1));
    }
  });
  if (url) {
    try {
      new URL(url).searchParams.forEach((value) => add(value));
    } catch {
      // Not a URL: nothing in a query.
    }
  }
  return [...out];
}

/**
 * `text` with every occurrence of each of `secrets` (eight characters or more) replaced by
 * `<redacted>`, also where the text holds only its start (sixteen characters or more, as OPA
 * shortens long strings in its messages). Linear in the text per secret.
 */
export function redactValues(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    const head = secret.slice(0, Math.min(secret.length, SECRET_PREFIX_LENGTH));
    let at = out.indexOf(head);
    if (at < 0) continue;
    let cut = "";
    let from = 0;
    while (at >= 0) {
      let end = at + head.length;
      while (end < out.length && end - at < secret.length && out[end] === secret[end - at]) end++;
      cut += `${out.slice(from, at)}<redacted>`;
      from = end;
      at = out.indexOf(head, end);
    }
    out = cut + out.slice(from);
  }
  return out;
}

/**
 * `text` as an HTTP header value: line breaks and other control characters become spaces, and a
 * character beyond Latin-1 its UTF-8 bytes (what a proxy sends for it), so `Headers` takes it.
 */
export function headerSafe(text: string): string {
  if (headerValueProblem(text) === undefined) return text;
  let out = "";
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (code === 0x09 || (code >= 0x20 && code <= 0x7e) || (code >= 0x80 && code <= 0xff)) out += ch;
    else if (code < 0x20 || code === 0x7f) out += " ";
    else for (const byte of new TextEncoder().encode(ch)) out += String.fromCharCode(byte);
  }
  return out;
}
