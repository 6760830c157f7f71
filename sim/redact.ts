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
