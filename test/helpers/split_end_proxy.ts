/**
 * A proxy in front of an MCP server that sends every SSE answer to a `tools/call` in two writes, the
 * end of the chunked body in the second, `gapUs` microseconds after the first. It runs on a worker
 * thread, so the second write comes while the process under test is busy with the first, as a
 * backend in another process would send it (a backend that flushes each event, then ends its body).
 * Everything else is answered in one write, with a length. It reads one request at a time on each
 * connection, as the gateway's HTTP/1.1 client sends them.
 *
 * @module
 */

/** A running {@linkcode startSplitEndProxy}. */
export interface SplitEndProxy {
  /** The proxy's URL for the target's path. */
  url: string;
  /** Stops the worker, and with it every connection. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Starts a proxy to `target` whose SSE answers to `tools/call` end `gapUs` after their data. */
export async function startSplitEndProxy(target: string, gapUs: number): Promise<SplitEndProxy> {
  const worker = new Worker(import.meta.url, { type: "module" });
  const port = await new Promise<number>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<number>) => resolve(e.data);
    worker.onerror = (e) => reject(new Error(`The split-end proxy's worker failed: ${e.message}`));
    worker.postMessage({ target, gapUs });
  });
  return {
    url: `http://127.0.0.1:${port}${new URL(target).pathname}`,
    [Symbol.asyncDispose]: () => {
      worker.terminate();
      return Promise.resolve();
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Answers the requests of one connection until it closes. */
async function serveConnection(conn: Deno.TcpConn, target: URL, gapUs: number): Promise<void> {
  conn.setNoDelay(true);
  let buf = new Uint8Array(0);
  const more = async (): Promise<boolean> => {
    const chunk = new Uint8Array(64 * 1024);
    const n = await conn.read(chunk);
    if (n === null) return false;
    const joined = new Uint8Array(buf.length + n);
    joined.set(buf);
    joined.set(chunk.subarray(0, n), buf.length);
    buf = joined;
    return true;
  };
  try {
    for (;;) {
      let headEnd: number;
      while ((headEnd = decoder.decode(buf).indexOf("\r\n\r\n")) < 0) if (!await more()) return;
      const lines = decoder.decode(buf.subarray(0, headEnd)).split("\r\n");
      const headers = new Headers();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(":");
        headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
      }
      const length = Number(headers.get("content-length") ?? 0);
      while (buf.length < headEnd + 4 + length) if (!await more()) return;
      const body = decoder.decode(buf.subarray(headEnd + 4, headEnd + 4 + length));
      buf = buf.slice(headEnd + 4 + length);
      for (const name of ["host", "content-length", "connection"]) headers.delete(name);
      const [method, path] = lines[0].split(" ");
      const res = await fetch(new URL(path, target), {
        method,
        headers,
        body: method === "POST" ? body : undefined,
      });
      const text = await res.text();
      let head = `HTTP/1.1 ${res.status} ${res.statusText || "OK"}\r\n`;
      res.headers.forEach((value, name) => {
        if (!["content-length", "transfer-encoding", "connection"].includes(name)) {
          head += `${name}: ${value}\r\n`;
        }
      });
      const bytes = encoder.encode(text);
      if (res.headers.get("content-type")?.includes("text/event-stream") && body.includes('"tools/call"')) {
        const size = bytes.length.toString(16);
        await conn.write(encoder.encode(`${head}transfer-encoding: chunked\r\n\r\n${size}\r\n${text}\r\n`));
        // A busy wait: a timer's turn would be far longer than the gap a flushing backend leaves.
        const start = performance.now();
        while ((performance.now() - start) * 1000 < gapUs) { /* wait */ }
        await conn.write(encoder.encode("0\r\n\r\n"));
      } else {
        await conn.write(encoder.encode(`${head}content-length: ${bytes.length}\r\n\r\n${text}`));
      }
    }
  } catch {
    // The gateway went away.
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

// deno-lint-ignore no-explicit-any -- the worker's global scope
const self_ = globalThis as any;
if (typeof self_.WorkerGlobalScope !== "undefined" && self_ instanceof self_.WorkerGlobalScope) {
  self_.onmessage = (e: MessageEvent<{ target: string; gapUs: number }>) => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    self_.postMessage(listener.addr.port);
    (async () => {
      for await (const conn of listener) serveConnection(conn, new URL(e.data.target), e.data.gapUs);
    })();
  };
}
