/**
 * The pass-through's HTTP/1.1 client against raw TCP servers that write exactly the bytes each test
 * needs: framings, reuse, stale connections, limits, abort and cancel.
 */
import { assert, assertEquals, assertMatch, assertRejects } from "../test/helpers/assert.ts";
import { canPostHttp1, Http1Error, Http1Pool, MAX_HEAD_BYTES } from "./http1.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** What a raw server does with the n-th request (from 1): write to `conn`, maybe close it. */
type Answer = (conn: Deno.Conn, n: number, request: string) => Promise<void> | void;

/** A loopback server that reads whole requests (head and content-length body) and answers with `answer`. */
function rawServer(answer: Answer) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const requests: string[] = [];
  const ended: Promise<void>[] = [];
  let accepted = 0;
  const handle = async (conn: Deno.Conn) => {
    let pending = "";
    const buf = new Uint8Array(64 * 1024);
    try {
      for (;;) {
        const headEnd = pending.indexOf("\r\n\r\n");
        const length = /content-length: (\d+)/i.exec(pending.slice(0, headEnd))?.[1];
        if (headEnd >= 0 && pending.length >= headEnd + 4 + Number(length ?? 0)) {
          const size = headEnd + 4 + Number(length ?? 0);
          requests.push(pending.slice(0, size));
          pending = pending.slice(size);
          await answer(conn, requests.length, requests.at(-1)!);
          continue;
        }
        const n = await conn.read(buf);
        if (n === null) break;
        pending += decoder.decode(buf.subarray(0, n));
      }
    } catch {
      // closed by the test
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // already closed
      }
    }
  };
  const serving = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      ended.push(handle(conn));
    }
  })();
  return {
    url: new URL(`http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/mcp`),
    requests,
    get accepted() {
      return accepted;
    },
    /** Connections still open on the server's side. */
    get open() {
      return conns.size;
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const c of conns) c.close();
      await serving.catch(() => {});
      await Promise.all(ended);
    },
  };
}

const write = async (conn: Deno.Conn, text: string) => {
  const bytes = encoder.encode(text);
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
};

/** Writes `text` a byte at a time, so every parse crosses reads. */
const trickle = async (conn: Deno.Conn, text: string) => {
  for (const b of encoder.encode(text)) await conn.write(new Uint8Array([b]));
};

const HEADERS = { "content-type": "application/json", accept: "application/json, text/event-stream" };

async function text(pool: Http1Pool, url: URL, body = "{}", signal?: AbortSignal) {
  const answer = await pool.post(url, HEADERS, body, signal);
  const parts: string[] = [];
  for (;;) {
    const r = await answer.body.read();
    if (r.done) break;
    parts.push(decoder.decode(r.value));
  }
  return { status: answer.status, headers: answer.headers, text: parts.join("") };
}

/** Waits until `check` holds (the server's side of a close takes a turn or two). */
async function until(check: () => boolean, what: string) {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert(check(), what);
}

Deno.test("http1: a content-length answer, and the connection is reused for the next request", async () => {
  await using server = rawServer((conn, n) =>
    write(conn, `HTTP/1.1 200 OK\r\nContent-Length: 7\r\nX-N: ${n}\r\n\r\nanswer${n}`)
  );
  const pool = new Http1Pool();
  try {
    const first = await text(pool, server.url);
    assertEquals([first.status, first.text, first.headers.get("x-n")], [200, "answer1", "1"]);
    const second = await text(pool, server.url, '{"b":1}');
    assertEquals([second.status, second.text], [200, "answer2"]);
    assertEquals(server.accepted, 1);
    // What the backend sees: the caller's headers, fetch's accept-language and user-agent, the exact length.
    const request = server.requests[1];
    assert(request.startsWith("POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:"), request);
    for (
      const h of [
        "content-type: application/json",
        "accept-language: *",
        `user-agent: Deno/`,
        "content-length: 7",
      ]
    ) {
      assert(request.includes(h), `${h} in ${request}`);
    }
    assert(!/accept-encoding/i.test(request), "no compression asked for");
  } finally {
    pool.close();
  }
});

Deno.test("http1: a chunked answer read a byte at a time, with extensions and trailers", async () => {
  await using server = rawServer((conn) =>
    trickle(
      conn,
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/event-stream\r\n\r\n" +
        "6;ext=1\r\nevent:\r\n" + "a\r\n message\n\n\r\n" + "0\r\nx-trailer: 1\r\n\r\n",
    )
  );
  const pool = new Http1Pool();
  try {
    const r = await text(pool, server.url);
    assertEquals(r.text, "event: message\n\n");
    assertEquals(r.headers.get("Content-Type"), "text/event-stream");
    await text(pool, server.url);
    assertEquals(server.accepted, 1, "the whole chunked answer was read, so the connection is reused");
  } finally {
    pool.close();
  }
});

Deno.test("http1: ended() is true only when the body's end was read with its last chunk", async () => {
  let release!: () => void;
  const released = new Promise<void>((resolve) => release = resolve);
  const chunked = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
  await using server = rawServer(async (conn, n) => {
    if (n === 1) return write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
    if (n === 2) return write(conn, `${chunked}5\r\nhello\r\n0\r\n\r\n`);
    if (n === 3) return write(conn, `${chunked}5\r\nhello\r\n0\r\nx-trailer: 1\r\n\r\n`);
    await write(conn, `${chunked}5\r\nhello\r\n`);
    await released;
    await write(conn, "0\r\n\r\n");
  });
  const pool = new Http1Pool();
  const hello = async (body: { read(): Promise<ReadableStreamReadResult<Uint8Array>> }) => {
    const r = await body.read();
    assertEquals(r.done ? undefined : decoder.decode(r.value), "hello");
  };
  try {
    // With a length, and chunked with the last chunk in the same read: ended, and reusable at once.
    for (const _ of [1, 2]) {
      const answer = await pool.post(server.url, HEADERS, "{}");
      assertEquals(answer.body.ended?.(), false, "nothing was read yet");
      await hello(answer.body);
      assertEquals(answer.body.ended?.(), true);
      assertEquals((await answer.body.read()).done, true);
    }
    // Trailers are left to reading on.
    const trailed = await pool.post(server.url, HEADERS, "{}");
    await hello(trailed.body);
    assertEquals(trailed.body.ended?.(), false);
    assertEquals((await trailed.body.read()).done, true);
    // The end not come yet: not ended, nor while a read waits for it.
    const waiting = await pool.post(server.url, HEADERS, "{}");
    await hello(waiting.body);
    assertEquals(waiting.body.ended?.(), false);
    const end = waiting.body.read();
    assertEquals(waiting.body.ended?.(), false, "a read is under way");
    release();
    assertEquals((await end).done, true);
    assertEquals(waiting.body.ended?.(), true);
    await text(pool, server.url);
    assertEquals(server.accepted, 1, "every answer was read to its end, so one connection served them all");
  } finally {
    release();
    pool.close();
  }
});

Deno.test("http1: a 1xx answer is skipped; 204 has no body", async () => {
  await using server = rawServer((conn, n) =>
    write(
      conn,
      n === 1
        ? "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"
        : "HTTP/1.1 204 No Content\r\n\r\n",
    )
  );
  const pool = new Http1Pool();
  try {
    assertEquals((await text(pool, server.url)).status, 202);
    assertEquals(await text(pool, server.url).then((r) => [r.status, r.text]), [204, ""]);
    assertEquals(server.accepted, 1);
  } finally {
    pool.close();
  }
});

Deno.test("http1: an answer read to the close, connection: close, HTTP/1.0 and both framings are not reused", async () => {
  const answers = [
    "HTTP/1.1 200 OK\r\n\r\nto the end",
    "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
    "HTTP/1.1 200 OK\r\ncontent-length: 99\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
  ];
  await using server = rawServer(async (conn, n) => {
    await write(conn, answers[n - 1]);
    if (n === 1) conn.close();
  });
  const pool = new Http1Pool();
  try {
    assertEquals((await text(pool, server.url)).text, "to the end");
    for (let i = 1; i < answers.length; i++) assertEquals((await text(pool, server.url)).text, "ok");
    assertEquals(server.accepted, answers.length);
  } finally {
    pool.close();
  }
});

Deno.test("http1: bytes after an answer keep its connection out of the pool", async () => {
  await using server = rawServer((conn) =>
    write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
  );
  const pool = new Http1Pool();
  try {
    assertEquals((await text(pool, server.url)).text, "ok");
    assertEquals((await text(pool, server.url)).text, "ok");
    assertEquals(server.accepted, 2);
  } finally {
    pool.close();
  }
});

Deno.test("http1: an idle connection the backend closed is replaced, the request sent once more", async () => {
  await using server = rawServer(async (conn) => {
    await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    conn.close();
  });
  const pool = new Http1Pool();
  try {
    assertEquals((await text(pool, server.url)).text, "ok");
    await until(() => server.open === 0, "the server closed its side");
    assertEquals((await text(pool, server.url)).text, "ok");
    assertEquals(server.accepted, 2);
    assertEquals(server.requests.length, 2, "the request reached the backend once per post");
  } finally {
    pool.close();
  }
});

Deno.test("http1: heads, chunk lines and framings a backend gets wrong are errors naming what", async () => {
  const cases: [string, RegExp][] = [
    [`HTTP/1.1 200 OK\r\nx: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`, /response head over/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n" + "f".repeat(10_000), /chunk line over/],
    ["SSH-2.0-OpenSSH\r\n\r\n", /not HTTP\/1\.x/],
    ["HTTP/1.1 200 OK\r\n folded: x\r\n\r\n", /malformed response header/],
    ["HTTP/1.1 200 OK\r\ncontent-length: 2, 3\r\n\r\nok", /invalid content-length/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, chunked\r\n\r\n", /unsupported transfer-encoding/],
    ["HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", /malformed chunk size/],
    [
      "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokay\r\n0\r\n\r\n",
      /chunk longer than its size/,
    ],
    ["HTTP/1.1 101 Switching Protocols\r\n\r\n", /protocol switch/],
  ];
  await using server = rawServer(async (conn, n) => {
    await write(conn, cases[n - 1][0]).catch(() => {});
    conn.close();
  });
  const pool = new Http1Pool();
  try {
    for (const [, expected] of cases) {
      const err = await assertRejects(() => text(pool, server.url), Http1Error);
      assertMatch(err.message, expected);
    }
  } finally {
    pool.close();
  }
});

Deno.test("http1: a body cut short is an error; abort ends a pending read; cancel ends it quietly", async () => {
  await using server = rawServer(async (conn, n) => {
    if (n === 1) {
      await write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
      conn.close();
      return;
    }
    // The rest never comes: the server only waits for the client's next request, or its close.
    await write(conn, "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n");
  });
  const pool = new Http1Pool();
  try {
    await assertRejects(() => text(pool, server.url), Http1Error, "closed in the middle of the body");

    const ac = new AbortController();
    const aborted = await pool.post(server.url, HEADERS, "{}", ac.signal);
    assertEquals(decoder.decode((await aborted.body.read()).value), "abc");
    const pending = aborted.body.read();
    ac.abort(new Error("timed out"));
    await assertRejects(() => pending, Error, "timed out");

    const cancelled = await pool.post(server.url, HEADERS, "{}");
    await cancelled.body.read();
    const waiting = cancelled.body.read();
    await cancelled.body.cancel();
    assertEquals((await waiting).done, true);
    await until(() => server.open === 0, "the aborted and the cancelled connection are closed");
  } finally {
    pool.close();
  }
});

Deno.test("http1: close() closes the idle connections", async () => {
  await using server = rawServer((conn) => write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
  const pool = new Http1Pool();
  await text(pool, server.url);
  assertEquals(server.open, 1);
  pool.close();
  await until(() => server.open === 0, "the idle connection is closed");
});

Deno.test("http1: a connection idle longer than idleMs is closed, though no request comes", async () => {
  await using server = rawServer((conn) => write(conn, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
  const pool = new Http1Pool({ idleMs: 30 });
  try {
    await text(pool, server.url);
    assertEquals(server.open, 1);
    await until(() => server.open === 0, "the idle connection is closed by the pool's sweep");
    assertEquals((await text(pool, server.url)).text, "ok");
    assertEquals(server.accepted, 2);
  } finally {
    pool.close();
  }
});

Deno.test("http1: only plain http with headers fetch would send as they are", () => {
  const ok = new URL("http://127.0.0.1:1/mcp");
  assert(canPostHttp1(ok, HEADERS));
  assert(!canPostHttp1(new URL("https://example.com/mcp"), HEADERS));
  assert(!canPostHttp1(new URL("http://u:p@127.0.0.1:1/mcp"), HEADERS));
  assert(!canPostHttp1(ok, { "x-a": "1\r\nx-injected: 1" }));
  assert(!canPostHttp1(ok, { "bad name": "1" }));
});
