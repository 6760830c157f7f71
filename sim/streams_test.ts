import { assertEquals } from "../test/helpers/assert.ts";
import { concatBytes, relayBody } from "./streams.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("relayBody: the head first, then the rest; onEnd when the body ends", async () => {
  let ended = 0;
  const source = new Response("world").body!.getReader();
  const text = await new Response(relayBody(source, { head: bytes("hello "), onEnd: () => ended++ })).text();
  assertEquals(text, "hello world");
  assertEquals(ended, 1);
});

Deno.test("relayBody: a cancel of the new stream reaches the source and ends it", async () => {
  let ended = 0;
  let cancelled: unknown;
  const source = new ReadableStream<Uint8Array>({ cancel: (reason) => void (cancelled = reason) })
    .getReader();
  await relayBody(source, { onEnd: () => ended++ }).cancel("bye");
  assertEquals([cancelled, ended], ["bye", 1]);
});

Deno.test("concatBytes: the chunks' bytes in order, in a new array", () => {
  const parts = [bytes("he"), bytes(""), bytes("llo")];
  const joined = concatBytes(parts);
  assertEquals(new TextDecoder().decode(joined), "hello");
  joined[0] = 0;
  assertEquals(parts[0][0], "h".charCodeAt(0));
  assertEquals(concatBytes([]).byteLength, 0);
});
