/**
 * Where the gateway's time goes: runs the fixture and the gateway as in the gateway suite, the
 * gateway under the V8 inspector, drives `concurrency` sessions of `tools/call` for a few seconds
 * while the CPU profiler samples, and prints self time by function and by file.
 * `deno run -A bench/profile_gateway.ts [--seconds 5] [--concurrency 16] [--top 40]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { connectGateway } from "../src/mcp/client.ts";
import { DENO, Server, stopAll } from "./lib.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

async function cdp(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)!(msg.result ?? msg.error);
      pending.delete(msg.id);
    }
  };
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "5" },
      concurrency: { type: "string", default: "16" },
      top: { type: "string", default: "40" },
    },
  });
  const port = 9229 + Math.floor(Math.random() * 500);
  try {
    const fixture = new Server("fixture", DENO, ["run", "-A", "bench/fixture_server.ts", "slow"]);
    const fixtureUrl = (await fixture.waitFor(/^listening \S+ (\S+)$/, 60_000))[1];
    const config = { servers: [{ name: "bench/slow", url: fixtureUrl, prefix: "slow_" }] };
    const gateway = new Server("gateway", DENO, [
      "run",
      "-A",
      `--inspect=127.0.0.1:${port}`,
      "bench/gateway_server.ts",
      "--config",
      JSON.stringify(config),
    ]);
    const url = (await gateway.waitFor(/^listening \S+ (\S+)$/, 60_000))[1];
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
    const session = await cdp(targets[0].webSocketDebuggerUrl);
    await session.send("Profiler.enable");
    await session.send("Profiler.setSamplingInterval", { interval: 200 });
    const clients = await Promise.all(
      Array.from({ length: Number(values.concurrency) }, () => connectGateway(url)),
    );
    await Promise.all(clients.map((c) => c.callTool({ name: "slow_echo", arguments: { message: "warm" } })));
    await session.send("Profiler.start");
    const deadline = performance.now() + Number(values.seconds) * 1000;
    let calls = 0;
    await Promise.all(clients.map(async (c) => {
      while (performance.now() < deadline) {
        await c.callTool({ name: "slow_echo", arguments: { message: "x" } });
        calls++;
      }
    }));
    const { profile } = await session.send("Profiler.stop") as { profile: Profile };
    session.close();
    await Promise.all(clients.map((c) => c.close()));
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
    const total = [...self.values()].reduce((a, b) => a + b, 0);
    const fnTimes = new Map<string, number>();
    const fileTimes = new Map<string, number>();
    for (const [id, t] of self) {
      const f = byId.get(id)!.callFrame;
      const file =
        f.url.replace(/^.*node_modules\/\.deno\//, "npm:").replace(/^file:\/\/\/work\/main\//, "") ||
        "(native)";
      const key = `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`;
      fnTimes.set(key, (fnTimes.get(key) ?? 0) + t);
      const pkg = file.startsWith("npm:") ? file.split("/").slice(0, 2).join("/") : file;
      fileTimes.set(pkg, (fileTimes.get(pkg) ?? 0) + t);
    }
    const pct = (t: number) => `${((100 * t) / total).toFixed(1).padStart(5)}%`;
    console.log(
      `${calls} calls in ${values.seconds} s; ${(total / 1000).toFixed(0)} ms sampled in the gateway`,
    );
    console.log(`\nSelf time by file or package:`);
    for (const [k, t] of [...fileTimes].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
      console.log(`${pct(t)}  ${k}`);
    }
    console.log(`\nSelf time by function:`);
    for (const [k, t] of [...fnTimes].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
      console.log(`${pct(t)}  ${k}`);
    }
  } finally {
    await stopAll();
  }
}

if (import.meta.main) await main();
