/**
 * A/B of two copies of the simulator's `tools/call` hop, side by side in one run: the working tree's
 * gateway (A), another copy's (B: `--sim PATH/mod.ts`, e.g. the previous commit exported with
 * `git archive`) and the Go ReverseProxy floor, over one fixture. In rotating blocks, each path gets
 * `--concurrency` sessions calling `echo` for `--seconds` (CPU of the hop process per call, calls/s,
 * p50) and then `--sequential` calls on one session (p50). Prints each block and the medians.
 * `deno run -A bench/ab_gateway.ts --sim /tmp/prev/sim/mod.ts [--a /tmp/next/sim/mod.ts] [--blocks 5]
 * [--seconds 2] [--floors] [--pause S] [--churn N]` (`--a`: a copy to run as A instead of the working tree's;
 * `--floors`: the Deno fetch proxy and id-rewriting floors as well; `--pause`: every path idles S
 * seconds before its sequential calls, as a path does between its blocks in the gateway suite, where
 * a Deno hop's next calls are slower than right after load; `--churn N`: before its warm-up, A opens and
 * closes N idle sessions, 16 at a time, as every path does in the gateway suite's memory phase).
 *
 * @module
 */

import { parseArgs } from "node:util";
// @ts-types="@modelcontextprotocol/sdk/client/index"
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectGateway } from "../src/mcp/client.ts";
import {
  type CallPath,
  cpuMsOf,
  load,
  ROOT,
  rotate,
  runCommand,
  sequential,
  Server,
  sleep,
  startServer,
  stats,
  stopAll,
} from "./lib.ts";
import { churnSessions } from "./raw_session.ts";

interface Path extends CallPath {
  hop: Server;
  clients: Client[];
  single: Client;
}

interface Block {
  cpuMsPerCall: number;
  callsPerSecond: number;
  loadP50: number;
  loadP99: number;
  seqP50: number;
  seqCpuMsPerCall: number;
}

const median = (xs: number[]) => stats(xs).median;

async function goProxy(dir: string): Promise<string | undefined> {
  for (const go of ["/usr/local/go/bin/go", "go"]) {
    const out = await runCommand(go, ["build", "-o", `${dir}/go-reverse-proxy`, "."], {
      cwd: `${ROOT}bench/peers/go_reverse_proxy`,
      timeoutMs: 300_000,
    }).catch(() => undefined);
    if (out?.code === 0) return `${dir}/go-reverse-proxy`;
  }
  return undefined;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sim: { type: "string" },
      a: { type: "string" },
      blocks: { type: "string", default: "5" },
      seconds: { type: "string", default: "2" },
      concurrency: { type: "string", default: "16" },
      sequential: { type: "string", default: "200" },
      floors: { type: "boolean", default: false },
      pause: { type: "string", default: "0" },
      churn: { type: "string", default: "0" },
    },
  });
  const tmp = await Deno.makeTempDir({ prefix: "ab-gateway-" });
  try {
    const fixture = await startServer("fixture slow", "bench/fixture_server.ts", ["slow"]);
    const config = JSON.stringify({ servers: [{ name: "bench/slow", url: fixture.url, prefix: "slow_" }] });
    const specs: Array<
      { label: string; start: () => Promise<{ server: Server; url: string }>; prefix: string }
    > = [
      {
        label: "A (tree)",
        start: () =>
          startServer("gateway A", "bench/gateway_server.ts", [
            "--config",
            config,
            ...(values.a ? ["--sim", values.a] : []),
          ]),
        prefix: "slow_",
      },
    ];
    if (values.sim) {
      specs.push({
        label: "B (--sim)",
        start: () =>
          startServer("gateway B", "bench/gateway_server.ts", ["--config", config, "--sim", values.sim!]),
        prefix: "slow_",
      });
    }
    if (values.floors) {
      for (
        const [label, script] of [
          ["Deno floor", "bench/peers/deno_proxy.ts"],
          ["rewriting", "bench/peers/deno_rewriting_proxy.ts"],
        ]
      ) {
        specs.push({ label, start: () => startServer(label, script, [fixture.url]), prefix: "" });
      }
    }
    const go = await goProxy(tmp);
    if (go) {
      specs.push({
        label: "Go floor",
        start: async () => {
          const server = new Server("go-reverse-proxy", go, [fixture.url]);
          return { server, url: (await server.waitFor(/^listening \S+ (\S+)$/, 60_000))[1] };
        },
        prefix: "",
      });
    }
    const paths: Path[] = [];
    for (const s of specs) {
      const { server, url } = await s.start();
      if (s === specs[0] && Number(values.churn)) await churnSessions(url, Number(values.churn));
      const clients = await Promise.all(
        Array.from({ length: Number(values.concurrency) }, () => connectGateway(url)),
      );
      const single = await connectGateway(url);
      const p: Path = { label: s.label, prefix: s.prefix, hop: server, clients, single };
      await load(clients, p, 1, {});
      await sequential(single, p, 50);
      paths.push(p);
    }
    const results = new Map<Path, Block[]>(paths.map((p) => [p, []]));
    for (let b = 0; b < Number(values.blocks); b++) {
      for (const p of rotate(paths, b)) {
        const r = await load(p.clients, p, Number(values.seconds), { hop: p.hop.pid });
        if (Number(values.pause)) await sleep(Number(values.pause) * 1000);
        const c0 = await cpuMsOf(p.hop.pid);
        const seq = await sequential(p.single, p, Number(values.sequential));
        const seqCpu = (await cpuMsOf(p.hop.pid)) - c0;
        const block: Block = {
          cpuMsPerCall: r.cpuMs.hop / r.calls,
          callsPerSecond: r.calls / r.seconds,
          loadP50: median(r.latencies),
          loadP99: stats(r.latencies).p99,
          seqP50: median(seq),
          seqCpuMsPerCall: seqCpu / seq.length,
        };
        results.get(p)!.push(block);
        console.log(
          `block ${b} ${p.label.padEnd(10)} cpu/call ${block.cpuMsPerCall.toFixed(3)} ms  ${
            block.callsPerSecond.toFixed(0)
          } calls/s  load p50 ${block.loadP50.toFixed(2)} ms  p99 ${block.loadP99.toFixed(1)} ms  seq p50 ${
            block.seqP50.toFixed(3)
          } ms  seq cpu/call ${block.seqCpuMsPerCall.toFixed(3)} ms`,
        );
      }
    }
    console.log("\nmedians over blocks:");
    const floor = paths.find((p) => p.label === "Go floor");
    const med = (p: Path, k: keyof Block) => median(results.get(p)!.map((b) => b[k]));
    for (const p of paths) {
      const rel = (k: keyof Block) =>
        floor && p !== floor ? ` (${(med(p, k) / med(floor, k)).toFixed(2)}x floor)` : "";
      console.log(
        `${p.label.padEnd(10)} cpu/call ${med(p, "cpuMsPerCall").toFixed(3)} ms${rel("cpuMsPerCall")}  ${
          med(p, "callsPerSecond").toFixed(0)
        } calls/s${rel("callsPerSecond")}  load p99 ${med(p, "loadP99").toFixed(1)} ms${
          rel("loadP99")
        }  seq p50 ${med(p, "seqP50").toFixed(3)} ms${rel("seqP50")}  seq cpu/call ${
          med(p, "seqCpuMsPerCall").toFixed(3)
        } ms${rel("seqCpuMsPerCall")}`,
      );
    }
    for (const p of paths) await Promise.all([...p.clients, p.single].map((c) => c.close()));
  } finally {
    await stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) await main();
