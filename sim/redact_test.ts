import { assert, assertEquals, assertStringIncludes } from "../test/helpers/assert.ts";
import {
  headerSafe,
  headerValueProblem,
  invalidHeaderValue,
  redactedMessage,
  redactHeaderValues,
  redactValues,
  requestSecrets,
} from "./redact.ts";

const SECRET = 'Bearer abc"\r\nX-Evil: 1';

/** The error fetch's own `Headers` throws for `value`, or undefined when it takes it. */
function headersError(value: string): unknown {
  try {
    new Headers({ Authorization: value });
    return undefined;
  } catch (error) {
    return error;
  }
}

Deno.test("headerValueProblem accepts what a header value may hold and names what it may not", () => {
  for (const ok of ["Bearer abc.DEF-123_~+/=", "tab\tand space", "caf\u00e9 \u00ff", ""]) {
    assertEquals(headerValueProblem(ok), undefined, JSON.stringify(ok));
  }
  assertEquals(headerValueProblem("a\rb"), "it contains a carriage return");
  assertEquals(headerValueProblem("a\nb"), "it contains a line feed");
  assertEquals(headerValueProblem("a\0b"), "it contains a NUL character");
  assertEquals(headerValueProblem("a\x1bb"), "it contains the control character U+001B");
  assertEquals(headerValueProblem("a\x7fb"), "it contains the control character U+007F");
  assertEquals(headerValueProblem("snow\u2603man"), "it contains a character outside Latin-1");
  assertEquals(invalidHeaderValue("ok"), undefined);
  assertEquals(
    invalidHeaderValue("a\nb"),
    "not a valid HTTP header value: it contains a line feed (the value is not shown)",
  );
});

Deno.test("every value fetch's Headers refuses, headerValueProblem refuses too", () => {
  for (let code = 0; code <= 0x10ff; code++) {
    const value = `x${String.fromCharCode(code)}y`;
    if (headersError(value) !== undefined) {
      assert(headerValueProblem(value) !== undefined, `U+${code.toString(16)} is refused by Headers only`);
    }
  }
});

Deno.test("redactHeaderValues removes the value Deno's Headers error quotes, and names the header", () => {
  const error = headersError(SECRET);
  assert(error instanceof TypeError);
  assertStringIncludes(
    error.message,
    "X-Evil",
    "Deno's error no longer quotes the value: update the pattern",
  );
  const plain = redactedMessage(error);
  assertEquals(plain, "Invalid header value (not shown)");
  const named = redactHeaderValues(`could not connect (${error.message}).`, { header: "Authorization" });
  assertEquals(named, "could not connect (Invalid header value for Authorization (not shown)).");
});

Deno.test("redactHeaderValues removes the value undici's Headers error quotes", () => {
  // undici (Node's fetch) words it so; its message cannot be produced here, so it is written out.
  const undici = `Headers.append: "${SECRET}" is an invalid header value.`;
  assertEquals(
    redactHeaderValues(undici),
    "Headers.append: the value (not shown) is an invalid header value.",
  );
});

Deno.test("redactHeaderValues cuts to the end when the quote is not closed, and takes linear time", () => {
  assertEquals(
    redactHeaderValues('x (Invalid header value: "Bearer abc\nX-Evil'),
    "x (Invalid header value (not shown)",
  );
  // A backend's error text may be large and full of quotes.
  const started = performance.now();
  for (
    const text of [
      '"'.repeat(200_000),
      `Invalid header value: ${'"'.repeat(200_000)}`,
      `a"b${" is an invalid header value".repeat(20_000)}`,
    ]
  ) {
    redactHeaderValues(text);
  }
  const elapsed = performance.now() - started;
  assert(elapsed < 500, `redacting 600 kB of quotes took ${elapsed.toFixed(0)} ms`);
});

Deno.test("redactHeaderValues leaves other text alone", () => {
  const text = 'Server mcp/a could not be initialised (HTTP 401): Unauthorized "token"';
  assertEquals(redactHeaderValues(text), text);
  assertEquals(redactedMessage("plain"), "plain");
});

Deno.test("requestSecrets takes credential headers (with and without scheme), cookies and query values", () => {
  const headers = new Headers({
    authorization: "Bearer abcdefgh12345678",
    cookie: "session=cookie-value-1234; theme=dark",
    "x-api-key": "key-value-87654321",
    "content-type": "application/json-of-some-length",
    "x-short-token": "short",
  });
  const found = requestSecrets(headers, "http://h/mcp?api_key=query-value-1234&x=1");
  for (
    const want of [
      "Bearer abcdefgh12345678",
      "abcdefgh12345678",
      "cookie-value-1234",
      "key-value-87654321",
      "query-value-1234",
    ]
  ) {
    assert(found.includes(want), `${want} in ${JSON.stringify(found)}`);
  }
  assert(!found.includes("application/json-of-some-length"), "a header that names no credential");
  assert(!found.includes("short"), "values under eight characters");
});

Deno.test("redactValues cuts whole values and the start of one a message shortened", () => {
  const token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ";
  assertEquals(
    redactValues(`cannot convert Bearer ${token} to int; again ${token}`, [token]),
    "cannot convert Bearer <redacted> to int; again <redacted>",
  );
  assertEquals(
    redactValues(`conflicting values:\n  "${token.slice(0, 30)}... at x:3`, [token]),
    `conflicting values:\n  "<redacted>... at x:3`,
  );
  assertEquals(redactValues("no secret here", [token, "tiny"]), "no secret here");
  assertEquals(redactValues("tiny tiny", ["tiny"]), "tiny tiny");
});

Deno.test("headerSafe makes any text a header value", () => {
  assertEquals(headerSafe("plain text"), "plain text");
  assertEquals(headerSafe("two\nlines\r\n"), "two lines  ");
  const snow = headerSafe("snow\u2603man");
  assertEquals(headersError(snow), undefined);
  assertEquals(snow, "snow\u00e2\u0098\u0083man");
});
