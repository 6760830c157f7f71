/**
 * Fuzzes the gateway's JSON-RPC entry: random and mutated POST bodies, with a live session, without
 * one and with a forged one, against a real gateway in front of real fixture servers. Whatever comes
 * in, the gateway answers every request in bounded time, never with a 5xx, never crashes, and every
 * answer it gives as JSON-RPC is well-formed and carries the request's id when the request had a
 * readable one. The seed is fixed so a failure reproduces; `FUZZ_SEED=n` tries another.
 */
import { assert, assertEquals } from "./helpers/assert.ts";
import { startFixture } from "./fixtures/mod.ts";
import { normalizeConfig, startGateway } from "../sim/mod.ts";
import { MCP_METHODS } from "../sim/metrics.ts";
import { MAX_JSON_DEPTH } from "../sim/transport.ts";
import { MCP_HEADERS, rawSession } from "./sim_helpers.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261202);
const REQUESTS = 3000;
const PARALLEL = 8;
/** Longest any one request may take; the gateway answers each in milliseconds. */
const REQUEST_TIMEOUT_MS = 10_000;

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Marks where `Fuzzer#json` writes deep nesting. */
const DEEP = "\u0001deep:";

/** Random messages and mutations of them, from one seeded generator. */
class Fuzzer {
  readonly random: () => number;
  constructor(seed: number) {
    this.random = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  chance(p: number): boolean {
    return this.random() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  string(): string {
    return this.pick([
      () => "",
      () => "search",
      () => "x".repeat(this.int(200)),
      () => "é漢字🙂\u0000\u001f\u2028\ud800",
      () => "../../etc/passwd",
      () => "__proto__",
      () => "constructor",
      () => String.fromCharCode(...Array.from({ length: 1 + this.int(20) }, () => this.int(0x10000))),
      () => "a".repeat(70_000),
    ])();
  }

  number(): number {
    return this.pick([0, -1, 1, 1.5, -0, 2 ** 53, -(2 ** 63), 1e308, 5e-324, 42]);
  }

  value(depth = 0): unknown {
    const leaf = depth > 3 || this.chance(0.5);
    if (leaf) {
      return this.pick([
        () => null,
        () => this.chance(0.5),
        () => this.number(),
        () => this.string(),
      ])();
    }
    if (this.chance(0.5)) return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
    return Object.fromEntries(
      Array.from({ length: this.int(4) }, () => [this.string(), this.value(depth + 1)]),
    );
  }

  id(): unknown {
    return this.pick([
      () => this.int(1000),
      () => `req-${this.int(1000)}`,
      () => this.number(),
      () => this.string(),
      () => null,
      () => this.value(),
      () => undefined,
    ])();
  }

  method(): string {
    if (this.chance(0.1)) return this.string();
    // The methods the gateway routes itself more often than the rest.
    if (this.chance(0.4)) {
      return this.pick(["tools/call", "resources/read", "prompts/get", "completion/complete"]);
    }
    return this.pick([...MCP_METHODS]);
  }

  /** Plausible params for `method`, naming the fixtures' tools, prompts and resources. */
  params(method: string): unknown {
    const uri = () =>
      this.pick([
        "weather://stations/list",
        `weather://stations/${this.int(100)}`,
        "mcp+test.github:github://repos/readme",
        "mcp+nope:x",
        "weather://" + "{a}".repeat(this.int(50)),
        this.string(),
      ]);
    switch (method) {
      case "initialize":
        return {
          protocolVersion: this.pick(["2025-11-25", "2025-06-18", "2025-03-26", "1999-01-01", this.string()]),
          capabilities: this.chance(0.8) ? {} : this.value(),
          clientInfo: this.chance(0.8) ? { name: "fuzz", version: "1" } : this.value(),
        };
      case "tools/call":
        return {
          name: this.pick([
            "search",
            "get_forecast",
            "gh_search",
            "gh_get_issue",
            "discover_tools",
            this.string(),
          ]),
          arguments: this.chance(0.7) ? { query: "x", city: "Paris", number: 1 } : this.value(),
        };
      case "prompts/get":
        return {
          name: this.pick(["forecast_summary", "gh_review_pr", this.string()]),
          arguments: this.value(),
        };
      case "resources/read":
      case "resources/subscribe":
      case "resources/unsubscribe":
        return { uri: uri() };
      case "completion/complete":
        return {
          ref: this.chance(0.5)
            ? { type: "ref/prompt", name: this.pick(["forecast_summary", this.string()]) }
            : { type: "ref/resource", uri: uri() },
          argument: { name: "city", value: "Pa" },
        };
      case "logging/setLevel":
        return { level: this.pick(["debug", "info", "emergency", this.string()]) };
      case "notifications/cancelled":
        return { requestId: this.id(), reason: "fuzz" };
      case "notifications/progress":
        return { progressToken: this.id(), progress: this.number() };
      default:
        return this.chance(0.7) ? {} : this.value();
    }
  }

  message(): Record<string, unknown> {
    const method = this.method();
    const m: Record<string, unknown> = { jsonrpc: "2.0", method };
    if (!method.startsWith("notifications/")) m.id = this.int(100_000);
    if (this.chance(0.8)) m.params = this.params(method);
    if (this.chance(0.05)) return { jsonrpc: "2.0", id: this.id(), result: this.value() };
    if (this.chance(0.03)) return { jsonrpc: "2.0", id: this.id(), error: { code: -1, message: "x" } };
    return m;
  }

  /**
   * A stand-in for `n` levels of arrays or objects, which `json` writes out: a value that deep
   * would overflow `JSON.stringify` here before it could reach the gateway.
   */
  nested(n: number): string {
    return `${DEEP}${n}`;
  }

  /** `value` as JSON text, with each `nested` stand-in written out. */
  json(value: unknown): string {
    return JSON.stringify(value).replace(/"\\u0001deep:(\d+)"/g, (_, n) => {
      const levels = Array.from({ length: Number(n) }, () => this.chance(0.5));
      return levels.map((array) => array ? "[" : '{"k":').join("") + "1" +
        levels.reverse().map((array) => array ? "]" : "}").join("");
    });
  }

  mutate(m: Record<string, unknown>): Record<string, unknown> {
    const out = { ...m };
    for (let i = 1 + this.int(3); i > 0; i--) {
      const key = this.pick(["jsonrpc", "id", "method", "params", "result", "error", this.string()]);
      this.pick([
        () => delete out[key],
        () => (out[key] = this.value()),
        () => (out.id = this.id()),
        () => (out.jsonrpc = this.pick(["1.0", "2", 2, null, "2.0 "])),
        () => (out.method = this.pick([this.string(), 42, null, "tools/call\n", "TOOLS/CALL"])),
        () => (out.params = this.pick([[], "params", 7, null, [1, 2]])),
        () => (out.params = {
          ...(out.params as object),
          deep: this.nested(MAX_JSON_DEPTH - 5 + this.int(10)),
        }),
        () => (out.params = { deep: this.nested(this.pick([200, 20_000])) }),
        // Deep where a valid call carries it: a tool's arguments.
        () => (out.params = {
          ...(typeof out.params === "object" && !Array.isArray(out.params) ? out.params : {}),
          arguments: { q: this.nested(this.pick([MAX_JSON_DEPTH - 3, MAX_JSON_DEPTH, 20_000])) },
        }),
        () => (out.params = JSON.parse('{"__proto__":{"polluted":true},"name":"search"}')),
      ])();
    }
    return out;
  }

  /** Text-level damage to a JSON body. */
  damage(text: string): string {
    const at = this.int(text.length + 1);
    return this.pick([
      () => text.slice(0, at),
      () =>
        text.slice(0, at) + this.pick(["{", "}", "[", "]", '"', ",", ":", "\\", "\u0000"]) + text.slice(at),
      () => text.slice(0, at) + text.slice(at + 1 + this.int(5)),
      () => "\ufeff" + text,
      () => " \n\t" + text + " \n",
      () => text + text,
      () => text.replaceAll('"', "'"),
      () => `[${text}]`,
      () => `[${text},${text}]`,
      () => text.replace(/:(\d+)/, ":$1e400"),
      () => text.replace(/:(\d+)/, ":-$1.0"),
    ])();
  }

  /** One request body: text, or raw bytes that need not be UTF-8. */
  body(): string | Uint8Array {
    const roll = this.random();
    if (roll < 0.15) return this.json(this.message());
    if (roll < 0.55) return this.json(this.mutate(this.message()));
    if (roll < 0.75) return this.damage(this.json(this.message()));
    if (roll < 0.85) {
      return this.json(
        Array.from(
          { length: this.int(4) },
          () => this.chance(0.5) ? this.message() : this.mutate(this.message()),
        ),
      );
    }
    if (roll < 0.92) return JSON.stringify(this.value());
    if (roll < 0.96) return Uint8Array.from({ length: this.int(64) }, () => this.int(256));
    return this.pick(["", "null", "[]", "{}", "[".repeat(100_000), "[".repeat(50_000) + "]".repeat(50_000)]);
  }
}

/** The id of a message when MCP allows it (a string or an integer), else null. */
function idOf(message: unknown): string | number | null {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return null;
  const id = (message as { id?: unknown }).id;
  return typeof id === "string" || Number.isSafeInteger(id) ? id as string | number : null;
}

/**
 * The ids an answer to `body` may carry: the request's own when it is one object with a readable
 * id (else null), and for a batch null or any of its messages' ids.
 */
function expectedIds(body: string | Uint8Array): Array<string | number | null> {
  try {
    // As the gateway reads it: UTF-8, a byte order mark dropped.
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
    return Array.isArray(parsed) ? [null, ...parsed.map(idOf)] : [idOf(parsed)];
  } catch {
    return [null];
  }
}

/** JSON-RPC messages in a response body: one JSON document, or the data of SSE events. */
function messages(contentType: string, text: string): unknown[] {
  if (contentType.includes("text/event-stream")) {
    return text.split(/\r?\n\r?\n/).map((event) =>
      event.split(/\r?\n/).filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n")
    ).filter(Boolean).map((data) => JSON.parse(data));
  }
  if (contentType.includes("application/json")) {
    const parsed = JSON.parse(text);
    return Array.isArray(parsed) ? parsed : [parsed];
  }
  return [];
}

interface Finding {
  index: number;
  problem: string;
  status: number;
  body: string;
  headers: Record<string, string>;
  response: string;
}

Deno.test("fuzz: random and mutated JSON-RPC posts get bounded, well-formed answers, never a 5xx", async () => {
  await using weather = await startFixture("weather");
  await using github = await startFixture("github");
  const errors: string[] = [];
  await using gateway = await startGateway(
    normalizeConfig({
      servers: [
        { name: "test/weather", url: weather.url, prefix: "" },
        { name: "test/github", url: github.url, prefix: "gh_" },
      ],
    }),
    { logger: (level, msg) => level === "error" && errors.push(msg), upstreamTimeoutMs: 5000 },
  );
  const session = await rawSession(gateway.url);
  const fuzz = new Fuzzer(SEED);
  const findings: Finding[] = [];
  const started = performance.now();

  const one = async (index: number, body: string | Uint8Array, headers: Record<string, string>) => {
    const ids = expectedIds(body);
    const finding = (problem: string, status: number, response: string) =>
      findings.push({
        index,
        problem,
        status,
        body: typeof body === "string" ? body.slice(0, 300) : `bytes ${[...body].join(",")}`,
        headers,
        response: response.slice(0, 300),
      });
    let res: Response;
    let text: string;
    try {
      res = await fetch(gateway.url, {
        method: "POST",
        headers,
        body: body as BodyInit,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      text = await res.text();
    } catch (error) {
      finding(`no answer: ${error instanceof Error ? error.message : error}`, 0, "");
      return;
    }
    if (res.status >= 500) finding("a 5xx", res.status, text);
    let parsed: unknown[];
    try {
      parsed = messages(res.headers.get("content-type") ?? "", text);
    } catch {
      finding("an unparseable body", res.status, text);
      return;
    }
    if (res.status >= 400 && parsed.length === 0 && res.status !== 405) {
      finding("an error without a JSON-RPC body", res.status, text);
    }
    for (const m of parsed as Array<Record<string, unknown>>) {
      if (m.method !== undefined) continue; // a notification or request on the stream
      const error = m.error as { code?: unknown; message?: unknown } | undefined;
      if (m.jsonrpc !== "2.0" || (error === undefined) === (m.result === undefined)) {
        finding("not a JSON-RPC response", res.status, text);
      } else if (error && (!Number.isInteger(error.code) || typeof error.message !== "string")) {
        finding("a malformed JSON-RPC error", res.status, text);
      } else if (!ids.includes(m.id as string | number | null)) {
        finding(`a wrong id: ${JSON.stringify(m.id)} for ${JSON.stringify(ids[0])}`, res.status, text);
      }
    }
  };

  let next = 0;
  const bodies = Array.from({ length: REQUESTS }, () => {
    const body = fuzz.body();
    const roll = fuzz.random();
    const headers = roll < 0.7 ? session.headers : roll < 0.9 ? MCP_HEADERS : {
      ...session.headers,
      // Forged ids: a tampered signature, junk, a long one (header values must be ASCII to be sent).
      "mcp-session-id": fuzz.pick([session.id.slice(0, -3) + "abc", "x", "a".repeat(4000), "..%00"]),
    };
    return { body, headers };
  });
  await Promise.all(Array.from({ length: PARALLEL }, async () => {
    while (next < bodies.length) {
      const i = next++;
      await one(i, bodies[i].body, bodies[i].headers);
    }
  }));
  const seconds = (performance.now() - started) / 1000;

  // Still serving, and its metrics did not grow with the random methods.
  const health = await fetch(new URL("/healthz", gateway.url));
  assertEquals(health.status, 200);
  await health.body?.cancel();
  const fresh = await rawSession(gateway.url);
  const list = await fetch(gateway.url, {
    method: "POST",
    headers: fresh.headers,
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });
  assertEquals(list.status, 200);
  await list.body?.cancel();
  const metrics = await (await fetch(new URL("/metrics", gateway.url))).text();
  const methods = new Set([...metrics.matchAll(/requests_total\{method="([^"]*)"/g)].map((m) => m[1]));
  for (const m of methods) {
    assert(MCP_METHODS.has(m) || ["POST", "batch", "response", "other"].includes(m), m);
  }

  // One line per kind of finding (problem, status, error message), with its first example.
  const kinds = new Map<string, { count: number; example: Finding }>();
  for (const f of findings) {
    const message = /"message":"([^"]*)"/.exec(f.response)?.[1] ?? "";
    const kind = `${f.problem.replace(/:.*/, "")} | HTTP ${f.status} | ${message}`;
    const k = kinds.get(kind) ?? { count: 0, example: f };
    k.count++;
    kinds.set(kind, k);
  }
  const summary = [...kinds].map(([kind, { count, example: f }]) =>
    `${count} x ${kind}\n  e.g. #${f.index}, session ${
      f.headers["mcp-session-id"] === session.id ? "live" : f.headers["mcp-session-id"] ? "forged" : "none"
    }, ${f.problem.slice(0, 100)}, body: ${f.body.slice(0, 160)}\n  answer: ${f.response.slice(0, 200)}`
  ).join("\n");
  assertEquals(
    findings.length,
    0,
    `seed ${SEED}: ${findings.length} findings in ${REQUESTS} requests\n${summary}\nerrors logged: ${
      errors.join("; ")
    }`,
  );
  assertEquals(errors, [], "the gateway logged errors");
  assert(seconds < 60, `${REQUESTS} requests took ${seconds.toFixed(1)} s`);
});
