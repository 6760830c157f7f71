/**
 * What an idle gateway session costs, and where the bytes are: runs the fixture and the gateway as
 * the gateway suite does, opens `N` idle sessions (initialize + notifications/initialized, left
 * open, over 16 pooled keep-alive connections as the suite's `sessionMemory` does) and reports
 *
 * - RSS and V8 heap per session: RSS after the suite's `gc()`, which leaves the young generation as
 *   the allocation rate grew it, and after a memory-reducing GC, which shrinks it as V8 does by
 *   itself once the process idles (its memory reducer);
 * - in a second gateway, V8 heap snapshots before and after opening the
 *   sessions: self size by constructor (the difference divided by N), and the retained size of each
 *   class that gained at least one instance per session (dominator tree of the snapshot);
 * - with `--allocations`, what opening a session allocates (garbage included) by package and
 *   function: the allocation rate is what grows V8's young generation;
 * - with `--connections`, the RSS of N idle keep-alive HTTP connections that hold no session, to
 *   separate what Deno's HTTP server keeps per connection from what the gateway keeps per session.
 *
 * `deno run -A bench/heap_session.ts [--sessions 1000] [--top 30] [--warmup 50] [--connections]
 *  [--no-snapshots] [--allocations]
 *  [--sim PATH/mod.ts]`
 *
 * @module
 */

import { parseArgs } from "node:util";
import { type Cdp, cdp } from "./cdp.ts";
import { DENO, rssOf, Server, sleep, startServer, stopAll } from "./lib.ts";
import { churnSessions, deleteSession, openSession, pool } from "./raw_session.ts";

/**
 * `count` idle HTTP/1.1 keep-alive connections to `url`'s host, each having had one `GET /healthz`
 * answered; returns them open.
 */
async function idleConnections(url: string, count: number): Promise<Deno.TcpConn[]> {
  const u = new URL(url);
  const request = new TextEncoder().encode(
    `GET /healthz HTTP/1.1\r\nhost: ${u.host}\r\nconnection: keep-alive\r\n\r\n`,
  );
  return await pool(count, 16, async () => {
    const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
    await conn.write(request);
    const buf = new Uint8Array(4096);
    let got = "";
    const deadline = Date.now() + 10_000;
    // Headers and a short body: enough to know the server answered and keeps the connection.
    while (!/\r\n\r\n[\s\S]*\S/.test(got) && Date.now() < deadline) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("the gateway closed an idle connection");
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    if (!got.startsWith("HTTP/1.1 200")) throw new Error(`GET /healthz answered ${got.split("\r\n")[0]}`);
    return conn;
  });
}

/** A gateway under the inspector (and with `gc()`), and a CDP session to it. */
async function inspectedGateway(config: string, simArgs: string[]) {
  const port = 9229 + Math.floor(Math.random() * 500);
  const server = new Server("gateway", DENO, [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    `--inspect=127.0.0.1:${port}`,
    "bench/gateway_server.ts",
    "--config",
    config,
    ...simArgs,
  ]);
  const url = (await server.waitFor(/^listening \S+ (\S+)$/, 60_000))[1];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const session = await cdp(targets[0].webSocketDebuggerUrl);
  return { server, url, session };
}

/** A value the gateway computes, by CDP. */
async function evaluate(session: Cdp, expression: string): Promise<unknown> {
  const r = await session.send("Runtime.evaluate", {
    expression,
    awaitPromise: true,
    returnByValue: true,
  }) as {
    result: { value: unknown };
  };
  return r.result.value;
}

/**
 * RSS, heap used and the young generation's size after the gateway suite's full GC (SIGUSR2, see
 * `gc_signal.ts`), then RSS after a memory-reducing one (V8's `last-resort` GC, which also shrinks
 * the young generation that the allocation rate grew).
 */
async function settle(g: Awaited<ReturnType<typeof inspectedGateway>>) {
  const heap = await g.server.collectGarbage();
  await sleep(300);
  const rss = await rssOf(g.server.pid);
  const newSpace = await evaluate(
    g.session,
    `import("node:v8").then((v8) => v8.getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size)`,
  ) as number;
  await evaluate(g.session, `gc({ type: "major", execution: "sync", flavor: "last-resort" })`);
  await sleep(300);
  return { heap, rss, newSpace, reducedRss: await rssOf(g.server.pid) };
}

interface Snapshot {
  nodes: Uint32Array;
  edges: Uint32Array;
  strings: string[];
  nodeFields: string[];
  edgeFields: string[];
  nodeTypes: string[];
  edgeTypes: string[];
}

async function takeSnapshot(session: Cdp): Promise<Snapshot> {
  await session.send("HeapProfiler.collectGarbage");
  await session.send("HeapProfiler.collectGarbage");
  const chunks: string[] = [];
  session.on("HeapProfiler.addHeapSnapshotChunk", (p) => chunks.push(p.chunk as string));
  await session.send("HeapProfiler.takeHeapSnapshot", { reportProgress: false, captureNumericValue: false });
  const raw = JSON.parse(chunks.join(""));
  const meta = raw.snapshot.meta;
  return {
    nodes: Uint32Array.from(raw.nodes),
    edges: Uint32Array.from(raw.edges),
    strings: raw.strings,
    nodeFields: meta.node_fields,
    edgeFields: meta.edge_fields,
    nodeTypes: meta.node_types[0],
    edgeTypes: meta.edge_types[0],
  };
}

/** Per class: instances, self bytes, and retained bytes summed over instances not inside another of the class. */
interface ClassFigures {
  count: number;
  self: number;
  retained: number;
}

/** The class of a node as DevTools groups them. */
function className(type: string, name: string): string {
  // Node ids differ between snapshots: `system / Context / scope @123` is one class in both.
  name = name.replace(/ @\d+$/, "");
  if (type === "object" || type === "native") return name;
  if (type === "closure") return `(closure) ${name || "anonymous"}`;
  if (type === "hidden" || type === "array" || type === "object shape") {
    return `(${type}) ${name.replace(/\d+/g, "N").slice(0, 60)}`;
  }
  return `(${type})`;
}

/** Self and retained size by class (retained from the dominator tree; weak edges do not retain). */
function analyse(s: Snapshot): Map<string, ClassFigures> {
  const nf = s.nodeFields.length;
  const ef = s.edgeFields.length;
  const T = s.nodeFields.indexOf("type");
  const NAME = s.nodeFields.indexOf("name");
  const SELF = s.nodeFields.indexOf("self_size");
  const EC = s.nodeFields.indexOf("edge_count");
  const ET = s.edgeFields.indexOf("type");
  const TO = s.edgeFields.indexOf("to_node");
  const weak = s.edgeTypes.indexOf("weak");
  const n = s.nodes.length / nf;
  const firstEdge = new Uint32Array(n + 1);
  for (let i = 0; i < n; i++) firstEdge[i + 1] = firstEdge[i] + s.nodes[i * nf + EC] * ef;
  const succ = (v: number, f: (w: number) => void) => {
    for (let e = firstEdge[v]; e < firstEdge[v + 1]; e += ef) {
      if (s.edges[e + ET] !== weak) f(s.edges[e + TO] / nf);
    }
  };
  // Dominators by Cooper, Harvey and Kennedy over a reverse post-order from the root (node 0).
  const order = new Int32Array(n).fill(-1);
  const post: number[] = [];
  const stack: number[] = [0];
  const iter = new Uint32Array(n);
  const visited = new Uint8Array(n);
  visited[0] = 1;
  for (let v = 0; v < n; v++) iter[v] = firstEdge[v];
  while (stack.length) {
    const v = stack[stack.length - 1];
    let pushed = false;
    while (iter[v] < firstEdge[v + 1]) {
      const e = iter[v];
      iter[v] += ef;
      if (s.edges[e + ET] === weak) continue;
      const w = s.edges[e + TO] / nf;
      if (!visited[w]) {
        visited[w] = 1;
        stack.push(w);
        pushed = true;
        break;
      }
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }
  const preds: number[][] = Array.from({ length: n }, () => []);
  for (const v of post) succ(v, (w) => visited[w] && preds[w].push(v));
  const idom = new Int32Array(n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a] < order[b]) a = idom[a];
      while (order[b] < order[a]) b = idom[b];
    }
    return a;
  };
  for (let changed = true, rounds = 0; changed && rounds < 100; rounds++) {
    changed = false;
    for (let k = post.length - 2; k >= 0; k--) {
      const v = post[k];
      let d = -1;
      for (const p of preds[v]) {
        if (idom[p] === -1) continue;
        d = d === -1 ? p : intersect(p, d);
      }
      if (d !== -1 && idom[v] !== d) {
        idom[v] = d;
        changed = true;
      }
    }
  }
  const retained = new Float64Array(n);
  for (let v = 0; v < n; v++) retained[v] = s.nodes[v * nf + SELF];
  // Post-order: children before their dominators.
  for (const v of post) if (v !== 0 && idom[v] >= 0) retained[idom[v]] += retained[v];
  const cls = new Array<string>(n);
  for (let v = 0; v < n; v++) {
    cls[v] = className(s.nodeTypes[s.nodes[v * nf + T]], s.strings[s.nodes[v * nf + NAME]]);
  }
  const out = new Map<string, ClassFigures>();
  for (let v = 0; v < n; v++) {
    const f = out.get(cls[v]) ?? { count: 0, self: 0, retained: 0 };
    f.count++;
    f.self += s.nodes[v * nf + SELF];
    // Counted once per class: an instance dominated by another of its class is in that one's size.
    let d = idom[v];
    let inside = false;
    for (let hops = 0; d > 0 && hops < 64; hops++, d = idom[d]) {
      if (cls[d] === cls[v]) {
        inside = true;
        break;
      }
    }
    if (!inside && visited[v]) f.retained += retained[v];
    out.set(cls[v], f);
  }
  return out;
}

const kib = (b: number) => `${(b / 1024).toFixed(2)} KiB`;
const perSession = (b: number, n: number) => `${Math.round(b / n)} B`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "1000" },
      top: { type: "string", default: "30" },
      // As the gateway suite's sessionMemory; with N, what the process grows by once (V8's young
      // generation, allocator arenas) is in the baseline instead of in the per-session figure.
      warmup: { type: "string", default: "50" },
      connections: { type: "boolean", default: false },
      // RSS and heap only: no second gateway for heap snapshots.
      "no-snapshots": { type: "boolean", default: false },
      // Also what opening a session allocates (garbage included), by package and function.
      allocations: { type: "boolean", default: false },
      sim: { type: "string" },
    },
  });
  const N = Number(values.sessions);
  const top = Number(values.top);
  const warmup = Number(values.warmup);
  const simArgs = values.sim ? ["--sim", values.sim] : [];
  const lines: string[] = [];
  const say = (line = "") => {
    console.log(line);
    lines.push(line);
  };
  try {
    const fixture = await startServer("fixture", "bench/fixture_server.ts", ["slow"]);
    const config = JSON.stringify({ servers: [{ name: "bench/slow", url: fixture.url, prefix: "slow_" }] });

    // RSS and heap in one gateway, heap snapshots in another: a snapshot's own allocations would
    // stay in the RSS measured after it.
    const measured = await inspectedGateway(config, simArgs);
    await churnSessions(measured.url, warmup);
    const before = await settle(measured);
    const ids = await pool(N, 16, (i) => openSession(measured.url, i));
    const open = await settle(measured);
    say(
      `${N} idle sessions (initialize + notifications/initialized, 16 pooled keep-alive connections), ` +
        `after ${warmup} opened and deleted:`,
    );
    say(
      `- RSS after gc() (as the gateway suite): ${kib(before.rss)} -> ${kib(open.rss)}: **${
        kib((open.rss - before.rss) / N)
      } per session**`,
    );
    say(
      `- RSS after a memory-reducing GC (V8's young generation shrunk, as V8's memory reducer does in an ` +
        `idle process): ${kib(before.reducedRss)} -> ${kib(open.reducedRss)}: **${
          kib((open.reducedRss - before.reducedRss) / N)
        } per session**`,
    );
    say(
      `- V8 heap used ${kib(before.heap)} -> ${kib(open.heap)}: **${
        kib((open.heap - before.heap) / N)
      } per session**`,
    );
    say(
      `- V8 young generation (new space) after gc(): ${kib(before.newSpace)} -> ${kib(open.newSpace)}`,
    );
    if (values.connections) {
      const conns = await idleConnections(measured.url, N);
      const withConns = await settle(measured);
      say(
        `- ${N} idle keep-alive connections holding no session (one GET /healthz each): RSS ${
          kib((withConns.reducedRss - open.reducedRss) / N)
        } (after the memory-reducing GC), V8 heap ${kib((withConns.heap - open.heap) / N)} per connection`,
      );
      for (const c of conns) c.close();
    }
    await pool(ids.length, 16, (i) => deleteSession(measured.url, ids[i]));
    measured.session.close();
    await measured.server.stop();
    if (values["no-snapshots"]) {
      if (values.allocations) await allocations(config, simArgs, N, warmup, top, say);
      return;
    }

    const { url, session } = await inspectedGateway(config, simArgs);
    await churnSessions(url, warmup);
    const a = analyse(await takeSnapshot(session));
    await pool(N, 16, (i) => openSession(url, i));
    const b = analyse(await takeSnapshot(session));
    session.close();
    const rows = [...b].map(([name, f]) => {
      const was = a.get(name) ?? { count: 0, self: 0, retained: 0 };
      return {
        name,
        count: f.count - was.count,
        self: f.self - was.self,
        retained: f.retained,
        instances: f.count,
      };
    });
    const totalSelf = rows.reduce((sum, r) => sum + r.self, 0);
    say();
    say(`Heap snapshot difference: ${perSession(totalSelf, N)} self size per session in all.`);
    say();
    say(`Largest by self size per session (difference of the two snapshots / ${N}):`);
    say();
    say("| class | instances per session | self size per session |");
    say("|---|---:|---:|");
    for (const r of rows.sort((x, y) => y.self - x.self).slice(0, top)) {
      say(`| \`${r.name}\` | ${(r.count / N).toFixed(2)} | ${perSession(r.self, N)} |`);
    }
    say();
    say(
      "Retained size of the classes that gained at least one instance per session (after; an instance " +
        "inside another of its class counts once):",
    );
    say();
    say("| class | instances per session | retained per instance | retained per session |");
    say("|---|---:|---:|---:|");
    const perInstance = rows
      .filter((r) => r.count >= N && !r.name.startsWith("("))
      .sort((x, y) => y.retained / y.instances * (y.count / N) - x.retained / x.instances * (x.count / N))
      .slice(0, top);
    for (const r of perInstance) {
      const each = r.retained / r.instances;
      say(
        `| \`${r.name}\` | ${(r.count / N).toFixed(2)} | ${Math.round(each)} B | ${
          perSession(each * r.count, N)
        } |`,
      );
    }
    if (values.allocations) await allocations(config, simArgs, N, warmup, top, say);
  } finally {
    await stopAll();
  }
}

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/**
 * What opening `n` sessions allocates, garbage included, by V8's sampling heap profiler: the
 * allocation rate is what grows the young generation the suite's RSS figure includes.
 */
async function allocations(
  config: string,
  simArgs: string[],
  n: number,
  warmup: number,
  top: number,
  say: (line?: string) => void,
): Promise<void> {
  const { url, session } = await inspectedGateway(config, simArgs);
  await churnSessions(url, warmup);
  await session.send("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  await pool(n, 16, (i) => openSession(url, i));
  const { profile } = await session.send("HeapProfiler.stopSampling") as { profile: { head: SamplingNode } };
  session.close();
  const byFunction = new Map<string, number>();
  const byPackage = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode) => {
    const f = node.callFrame;
    const file =
      f.url.replace(/^.*node_modules\/\.deno\//, "npm:").replace(/^file:\/\/.*?\/(sim|bench)\//, "$1/") ||
      "(native)";
    const pkg = file.startsWith("npm:") ? file.split("/")[0] : file;
    const key = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const c of node.children) walk(c);
  };
  walk(profile.head);
  say();
  say(`Allocated while opening ${n} sessions (sampled, garbage included): ${kib(total / n)} per session.`);
  say();
  say("| package or file | allocated per session |");
  say("|---|---:|");
  for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    say(`| \`${k}\` | ${kib(v / n)} |`);
  }
  say();
  say("| function | allocated per session |");
  say("|---|---:|");
  for (const [k, v] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    say(`| \`${k}\` | ${kib(v / n)} |`);
  }
}

if (import.meta.main) await main();
