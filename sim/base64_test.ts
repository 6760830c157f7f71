import { assertEquals } from "../test/helpers/assert.ts";
import { base64, base64UrlBytes } from "./base64.ts";

Deno.test("base64: UTF-8 bytes, as a Secret's data holds them", () => {
  assertEquals(base64("key-ü"), btoa("key-\u00c3\u00bc"));
});

Deno.test("base64UrlBytes: the URL alphabet without padding; anything else is not a segment", () => {
  assertEquals(base64UrlBytes("-_8"), Uint8Array.from([0xfb, 0xff]));
  assertEquals(base64UrlBytes(""), new Uint8Array());
  assertEquals(new TextDecoder().decode(base64UrlBytes("eyJhIjoxfQ")), '{"a":1}');
  for (const bad of ["eyJ=", "a+b/", "abcde", "a b"]) assertEquals(base64UrlBytes(bad), undefined, bad);
});
