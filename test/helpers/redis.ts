/**
 * A throw-away `redis-server` for tests: its own port and directory, no persistence unless a test
 * stops it with `save`, always killed on dispose. `test/setup_packages.sh` installs the binary.
 *
 * @module
 */

/** A running (or stopped, restartable) test Redis. */
export interface TestRedis extends AsyncDisposable {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** The port, kept across `stop` and `start`. */
  readonly port: number;
  /** Stops the server; with `save`, its data is written to disk first and comes back on `start`. */
  stop(options?: { save?: boolean }): Promise<void>;
  /** Starts it again on the same port and waits until it answers PING. */
  start(): Promise<void>;
  /** Runs one command (RESP, space-separated arguments without spaces) and returns the raw reply. */
  command(...args: string[]): Promise<string>;
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Sends one command and reads one reply (enough for PING, SHUTDOWN, DBSIZE and the like). */
async function rawCommand(port: number, args: string[], timeoutMs = 2000): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), timeoutMs);
  try {
    const body = `*${args.length}\r\n` + args.map((a) => `$${new TextEncoder().encode(a).length}\r\n${a}\r\n`)
      .join("");
    await conn.write(new TextEncoder().encode(body));
    const buf = new Uint8Array(64 * 1024);
    const n = await conn.read(buf);
    return n === null ? "" : new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timer or the server.
    }
  }
}

/** Starts `redis-server` on a free loopback port; fails with the reason when it cannot. */
export async function startRedis(): Promise<TestRedis> {
  const port = freePort();
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-redis-" });
  let child: Deno.ChildProcess | undefined;
  let log = "";

  const start = async () => {
    let process: Deno.ChildProcess;
    try {
      process = new Deno.Command("redis-server", {
        args: [
          "--port",
          String(port),
          "--bind",
          "127.0.0.1",
          "--save",
          "",
          "--appendonly",
          "no",
          "--dir",
          dir,
          "--dbfilename",
          "dump.rdb",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (error) {
      throw new Error(
        `Cannot start redis-server (${(error as Error).message}); run test/setup_packages.sh to install it.`,
      );
    }
    child = process;
    // Keep the pipes drained so a chatty server never blocks; the text helps when start-up fails.
    const drain = async (stream: ReadableStream<Uint8Array>) => {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) log += chunk;
    };
    const drained = Promise.all([drain(process.stdout), drain(process.stderr)]);
    (process as unknown as { drained: Promise<unknown> }).drained = drained;
    const end = Date.now() + 10_000;
    while (true) {
      const reply = await rawCommand(port, ["PING"]).catch(() => "");
      if (reply.startsWith("+PONG")) return;
      if (Date.now() > end) {
        await kill();
        throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };

  const reap = async (process: Deno.ChildProcess) => {
    await process.status;
    await (process as unknown as { drained: Promise<unknown> }).drained;
  };

  const kill = async () => {
    const process = child;
    child = undefined;
    if (!process) return;
    try {
      process.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await reap(process);
  };

  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop(options = {}) {
      const process = child;
      if (!process) return;
      if (options.save) {
        child = undefined;
        await rawCommand(port, ["SHUTDOWN", "SAVE"]).catch(() => "");
        const timer = setTimeout(() => {
          try {
            process.kill("SIGKILL");
          } catch {
            // Exited.
          }
        }, 5000);
        await reap(process);
        clearTimeout(timer);
      } else {
        await kill();
      }
    },
    start,
    command: (...args) => rawCommand(port, args),
    async [Symbol.asyncDispose]() {
      await kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
