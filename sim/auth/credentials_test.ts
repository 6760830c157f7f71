import { assertEquals } from "../../test/helpers/assert.ts";
import { credentialIdentifier, credentialLocation, extractCredential } from "./credentials.ts";
import type { AuthRequest } from "./types.ts";

function request(url: string, headers: Record<string, string> = {}): AuthRequest {
  const request = new Request(url, { headers });
  return {
    request,
    headers: request.headers,
    source: { address: "127.0.0.1", port: 50000 },
    destination: { address: "127.0.0.1", port: 8080 },
  };
}

const URL_ = "http://gateway.test/mcp";

Deno.test("credentials: the default is Authorization: Bearer", () => {
  assertEquals(extractCredential(request(URL_, { authorization: "Bearer abc.def.ghi" })), "abc.def.ghi");
  assertEquals(credentialLocation(undefined), { in: "authorizationHeader", prefix: "Bearer" });
  assertEquals(credentialLocation({}), { in: "authorizationHeader", prefix: "Bearer" });
  assertEquals(credentialLocation({ authorizationHeader: { prefix: "" } }), {
    in: "authorizationHeader",
    prefix: "Bearer",
  });
  assertEquals(credentialIdentifier(undefined), "Bearer");
});

Deno.test("credentials: a malformed Authorization header is no credential", () => {
  for (
    const header of [
      "abc.def.ghi",
      "bearer abc",
      "Bearerabc",
      "Bearer",
      "Basic YWxpY2U6cHc=",
      "Token abc",
    ]
  ) {
    assertEquals(extractCredential(request(URL_, { authorization: header })), undefined, header);
  }
  assertEquals(extractCredential(request(URL_)), undefined);
  // The rest after "Bearer " is taken as is, as Authorino does; verification then refuses it.
  assertEquals(extractCredential(request(URL_, { authorization: "Bearer  abc" })), " abc");
  assertEquals(extractCredential(request(URL_, { authorization: "Bearer " })), undefined); // Headers trim it
});

Deno.test("credentials: a token in the query string is not read unless queryString is configured", () => {
  const req = request(`${URL_}?access_token=abc&token=def`);
  assertEquals(extractCredential(req), undefined);
  assertEquals(extractCredential(req, { customHeader: { name: "access_token" } }), undefined);
  assertEquals(extractCredential(req, { queryString: { name: "access_token" } }), "abc");
  assertEquals(extractCredential(req, { queryString: { name: "token" } }), "def");
});

Deno.test("credentials: authorization header with a custom prefix", () => {
  const spec = { authorizationHeader: { prefix: "APIKEY" } };
  assertEquals(extractCredential(request(URL_, { authorization: "APIKEY s3cret" }), spec), "s3cret");
  assertEquals(extractCredential(request(URL_, { authorization: "Bearer s3cret" }), spec), undefined);
  assertEquals(credentialIdentifier(spec), "APIKEY");
});

Deno.test("credentials: a custom header is taken whole, its name case-insensitive", () => {
  const spec = { customHeader: { name: "X-API-Key" } };
  assertEquals(extractCredential(request(URL_, { "x-api-key": "Bearer k" }), spec), "Bearer k");
  assertEquals(extractCredential(request(URL_, { authorization: "Bearer k" }), spec), undefined);
  assertEquals(credentialIdentifier(spec), "X-API-Key");
});

Deno.test("credentials: query string as Go's url.Query decodes it", () => {
  const spec = { queryString: { name: "api_key" } };
  assertEquals(extractCredential(request(`${URL_}?api_key=a%2Bb+c`), spec), "a+b c");
  assertEquals(extractCredential(request(`${URL_}?api_key=&api_key=x`), spec), undefined);
  assertEquals(extractCredential(request(`${URL_}?api_key=%zz&api_key=x`), spec), "x");
  assertEquals(extractCredential(request(`${URL_}?a=1;api_key=x`), spec), undefined);
  assertEquals(extractCredential(request(URL_), spec), undefined);
});

Deno.test("credentials: a cookie is the first name= part of the Cookie header", () => {
  const spec = { cookie: { name: "session" } };
  assertEquals(extractCredential(request(URL_, { cookie: "a=1; session=tok; session=other" }), spec), "tok");
  assertEquals(extractCredential(request(URL_, { cookie: "a=1; xsession=tok" }), spec), undefined);
  assertEquals(extractCredential(request(URL_), spec), undefined);
  assertEquals(credentialIdentifier(spec), "session");
});
