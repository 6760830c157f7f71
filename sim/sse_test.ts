/**
 * The SSE reader: the standard's line ends and fields, the caps, and a fuzz run that checks random
 * and mutated streams against a plain reference reader, whatever the chunk boundaries.
 */
import { assert, assertEquals, assertThrows } from "../test/helpers/assert.ts";
import { formatSseEvent, type SseEvent, SseLimitError, SseReader, type SseReaderOptions } from "./sse.ts";

const enc = new TextEncoder();

/** Every event of `chunks` read in order, and the limit error if one was thrown. */
function read(
  chunks: Uint8Array[],
  opts: SseReaderOptions = {},
): { events: SseEvent[]; error?: { kind: string; limit: number } } {
  const reader = new SseReader(opts);
  const events: SseEvent[] = [];
  try {
    for (const chunk of chunks) reader.push(chunk, (e) => events.push(e));
    reader.end();
  } catch (err) {
    if (!(err instanceof SseLimitError)) throw err;
    return { events, error: { kind: err.kind, limit: err.limit } };
  }
  return { events };
}

const text = (...chunks: string[]) => read(chunks.map((c) => enc.encode(c))).events;
const ev = (data: string, type = "message", lastEventId = ""): SseEvent => ({ type, data, lastEventId });

Deno.test("SseReader: LF, CR and CRLF all end lines, and a CRLF split across chunks is one line end", () => {
  assertEquals(text("data: a\n\n"), [ev("a")]);
  assertEquals(text("data: a\r\r"), [ev("a")]);
  assertEquals(text("data: a\r\n\r\n"), [ev("a")]);
  assertEquals(text("data: a\rdata: b\ndata: c\r\n\r"), [ev("a\nb\nc")]);
  // CR ends one chunk and LF starts the next: the LF must not be taken for a blank line.
  assertEquals(text("data: a\r", "\ndata: b\r", "\n\r", "\n"), [ev("a\nb")]);
  assertEquals(text("data: a\r", "\r"), [ev("a")]);
  // Byte by byte.
  const bytes = enc.encode("event: x\r\ndata: é€\r\n\r\ndata: 2\r\r");
  assertEquals(read([...bytes].map((b) => new Uint8Array([b]))).events, [ev("é€", "x"), ev("2")]);
});

Deno.test("SseReader: fields as the standard reads them", () => {
  assertEquals(
    text(
      "\uFEFF: a comment\n",
      "event: ping\nid: 7\ndata:no space\ndata:  two spaces\ndata\nretry: 10\nunknown: x\n\n",
      "data: next\n\n",
      "id: bad\0id\ndata: keeps 7\n\n",
      "id\ndata: cleared\n\n",
      "event: nodata\nid: 9\n\n",
      "data: 9 came without an event\n\n",
      "data: never ended\n",
    ),
    [
      ev("no space\n two spaces\n", "ping", "7"),
      ev("next", "message", "7"),
      ev("keeps 7", "message", "7"),
      ev("cleared", "message", ""),
      ev("9 came without an event", "message", "9"),
    ],
  );
  // One BOM is skipped, split or not; a second one is part of the line.
  assertEquals(
    read([new Uint8Array([0xef]), new Uint8Array([0xbb, 0xbf]), enc.encode("data: x\n\n")]).events,
    [
      ev("x"),
    ],
  );
  assertEquals(text("\uFEFF\uFEFFdata: x\n\n"), []);
  // Invalid UTF-8 becomes U+FFFD, as with the stream decoded whole.
  assertEquals(read([new Uint8Array([0x64, 0x61, 0x74, 0x61, 0x3a, 0xe2, 0x82, 0x0a, 0x0a])]).events, [
    ev("\uFFFD"),
  ]);
});

Deno.test("SseReader: a line over the cap fails before its end arrives; an event over the cap fails", () => {
  const reader = new SseReader({ maxLineBytes: 16, maxEventBytes: 40 });
  const got: SseEvent[] = [];
  reader.push(enc.encode("data: 0123456789\n\ndata: 01234"), (e) => got.push(e));
  assertEquals(got, [ev("0123456789")]);
  // No line end yet: the partial line alone breaks the cap.
  const err = assertThrows(() => reader.push(enc.encode("56789ABCDEF"), () => {}), SseLimitError);
  assertEquals([err.kind, err.limit, err.code], ["line", 16, "ERR_SSE_LIMIT"]);
  assertEquals(err.message, "An SSE line exceeds the 16-byte limit.");
  // Failed for good.
  assertThrows(() => reader.push(enc.encode("\n\n"), () => {}), SseLimitError);

  // A line of exactly the cap passes; events before the failure in the same chunk are given.
  const r = read(
    [enc.encode("data: 0123456789\n\ndata: a\ndata: b\ndata: c\ndata: d\ndata: e\ndata: f\n\n")],
    {
      maxLineBytes: 16,
      maxEventBytes: 40,
    },
  );
  assertEquals(r, { events: [ev("0123456789")], error: { kind: "event", limit: 40 } });
  // Comments and other fields add nothing to an event.
  const c = read([enc.encode(`${": comment\nevent: x\nid: 1\n".repeat(50)}data: ok\n\n`)], {
    maxLineBytes: 16,
    maxEventBytes: 16,
  });
  assertEquals(c.events, [ev("ok", "x", "1")]);
});

Deno.test("formatSseEvent: what it writes reads back as the same event", () => {
  for (const data of ["{}", "", "a\nb", "a\r\nb\rc", " leading space"]) {
    const out = formatSseEvent(data, { type: "message", id: "e1" });
    assertEquals(text(out), [ev(data.replace(/\r\n|\r/g, "\n"), "message", "e1")]);
  }
  assertEquals(formatSseEvent('{"a":1}'), 'data: {"a":1}\n\n');
});

// --- fuzz ---

/** Mulberry32: a small seeded PRNG, so a failing case can be replayed from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The reference: the standard's steps on a whole stream, with no chunks and no cleverness. Caps
 * are checked as the reader checks them: a line (even an unfinished last one) over the line cap,
 * data lines adding up to more than the event cap.
 */
function reference(bytes: Uint8Array, maxLine: number, maxEvent: number) {
  const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  const events: SseEvent[] = [];
  let data: string[] = [];
  let size = 0;
  let type = "";
  let lastId = "";
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  const bom = i;
  for (;;) {
    let end = i;
    while (end < bytes.length && bytes[end] !== 10 && bytes[end] !== 13) end++;
    const length = end - i + (i === bom ? bom : 0);
    if (length > maxLine) return { events, error: { kind: "line", limit: maxLine } };
    if (end === bytes.length) return { events };
    const raw = bytes.subarray(i, end);
    const line = decoder.decode(raw);
    i = bytes[end] === 13 && bytes[end + 1] === 10 ? end + 2 : end + 1;
    if (line === "") {
      if (data.length) events.push({ type: type || "message", data: data.join("\n"), lastEventId: lastId });
      data = [];
      size = 0;
      type = "";
      continue;
    }
    if (line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") {
      size += raw.length + 1;
      if (size > maxEvent) return { events, error: { kind: "event", limit: maxEvent } };
      data.push(value);
    } else if (field === "event") type = value;
    else if (field === "id" && !value.includes("\0")) lastId = value;
  }
}

const PIECES = [
  "data: ",
  "data:",
  "data",
  "event: ",
  "event: message",
  "id: ",
  "id",
  "retry: 100",
  ": keepalive",
  ":",
  "\0",
  " ",
  '{"jsonrpc":"2.0","id":1,"result":{}}',
  '{"jsonrpc":"2.0","method":"notifications/progress"}',
  "é",
  "€",
  "😀",
  "x".repeat(40),
];
const ENDS = ["\n", "\r", "\r\n"];

/** A well-formed stream: whole lines, each ended by LF, CR or CRLF. */
function wellFormed(rand: () => number): Uint8Array {
  const pick = <T>(a: readonly T[]) => a[Math.floor(rand() * a.length)];
  let s = rand() < 0.1 ? "\uFEFF" : "";
  const lines = Math.floor(rand() * 30);
  for (let l = 0; l < lines; l++) {
    let line = "";
    if (rand() < 0.25) line = "";
    else {
      const parts = 1 + Math.floor(rand() * 3);
      for (let p = 0; p < parts; p++) line += pick(PIECES);
    }
    s += line.replace(/[\r\n]/g, "") + pick(ENDS);
  }
  return enc.encode(s);
}

/** `bytes` damaged: bytes flipped, inserted (line ends, NUL, broken UTF-8), cut or repeated. */
function mutate(bytes: Uint8Array, rand: () => number): Uint8Array {
  const out = [...bytes];
  const special = [10, 13, 0x3a, 0x20, 0, 0xef, 0xbb, 0xbf, 0xe2, 0x82, 0xff, 0x80];
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (out.length + 1));
    const r = rand();
    if (r < 0.3) out.splice(at, 0, special[Math.floor(rand() * special.length)]);
    else if (r < 0.5 && out.length) out[Math.min(at, out.length - 1)] = Math.floor(rand() * 256);
    else if (r < 0.7) out.splice(at, Math.floor(rand() * 8));
    else if (r < 0.85) out.splice(at, 0, ...out.slice(at, at + Math.floor(rand() * 16)));
    else out.length = at;
  }
  return new Uint8Array(out);
}

/** `bytes` cut at random places (sometimes byte by byte). */
function chunked(bytes: Uint8Array, rand: () => number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  const oneByOne = rand() < 0.1;
  for (let i = 0; i < bytes.length;) {
    const n = oneByOne ? 1 : 1 + Math.floor(rand() * 24);
    chunks.push(bytes.slice(i, i + n));
    i += n;
  }
  if (rand() < 0.2) chunks.splice(Math.floor(rand() * (chunks.length + 1)), 0, new Uint8Array(0));
  return chunks;
}

Deno.test("SseReader fuzz: random and mutated streams read as the reference does, in any chunks", () => {
  const rand = prng(0x5eed);
  const deadline = performance.now() + 5000;
  let cases = 0;
  let withEvents = 0;
  let limited = 0;
  for (; cases < 2000 && performance.now() < deadline; cases++) {
    const kind = rand();
    const bytes = kind < 0.4
      ? wellFormed(rand)
      : kind < 0.85
      ? mutate(wellFormed(rand), rand)
      : new Uint8Array(Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256)));
    const small = rand() < 0.4;
    const maxLine = small ? 1 + Math.floor(rand() * 60) : 1 << 20;
    const maxEvent = small ? 1 + Math.floor(rand() * 120) : 1 << 20;
    const opts = { maxLineBytes: maxLine, maxEventBytes: maxEvent };
    const expected = reference(bytes, maxLine, maxEvent);
    const label = `case ${cases}: ${JSON.stringify([...bytes])} caps ${maxLine}/${maxEvent}`;
    // Whole, then cut two ways: the same events and the same verdict every time.
    assertEquals(read([bytes], opts), expected, label);
    assertEquals(read(chunked(bytes, rand), opts), expected, label);
    assertEquals(read(chunked(bytes, rand), opts), expected, label);
    if (expected.events.length) withEvents++;
    if (expected.error) limited++;
  }
  // The run must have been a real one: enough cases, and both outcomes seen many times.
  assert(cases >= 500, `only ${cases} cases in 5 s`);
  assert(withEvents > cases / 10 && limited > cases / 20, JSON.stringify({ cases, withEvents, limited }));
});
