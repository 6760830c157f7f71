/**
 * `deno task bench [SUITE...|all] [--quick]` (suites: startup, validate, gateway, tools-cli, auth, ratelimit,
 * scale): speed and memory compared side by side
 * with the direct path and with peers in the same run. Writes `bench/results/latest.json` and
 * `latest.md` (a full run's suites replace the same suites there) plus a dated copy of this run;
 * `--quick` is a short smoke run written to `bench/results/quick.*` only.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { authSuite } from "./auth.ts";
import { gatewaySuite } from "./gateway.ts";
import { rateLimitSuite } from "./rate_limit.ts";
import {
  bytes,
  type MachineInfo,
  machineInfo,
  markdownTable,
  ROOT,
  stopAll,
  type SuiteContext,
  type SuiteResult,
  textTable,
  withTimeout,
} from "./lib.ts";
import { scaleSuite } from "./scale.ts";
import { startupSuite } from "./startup.ts";
import { toolsCliSuite } from "./tools_cli.ts";
import { validateSuite } from "./validate.ts";

type Suite = (ctx: SuiteContext, result: SuiteResult) => Promise<void>;

const SUITES: Record<string, { run: Suite; timeoutMs: number; what: string }> = {
  startup: { run: startupSuite, timeoutMs: 10 * 60_000, what: "CLI start-up vs kubectl" },
  validate: { run: validateSuite, timeoutMs: 10 * 60_000, what: "validate 1,000 documents vs kubectl" },
  gateway: {
    run: gatewaySuite,
    // Two peers (vMCP restarted per measurement) and 10,000 + 20,000 sessions at scale on two processes.
    timeoutMs: 30 * 60_000,
    what: "gateway vs direct, floors and peer gateways: latency, throughput, memory, sessions at scale",
  },
  "tools-cli": {
    run: toolsCliSuite,
    timeoutMs: 15 * 60_000,
    what: "kubectl mcp tools -A, 20 port-forwarded registrations, vs the servers directly",
  },
  auth: {
    run: authSuite,
    timeoutMs: 15 * 60_000,
    what: "tools/call with the authorization guide's AuthPolicy on vs off; engine CPU per call",
  },
  ratelimit: {
    run: rateLimitSuite,
    timeoutMs: 10 * 60_000,
    what: "tools/call with a RateLimitPolicy that never trips vs none; gate CPU per call",
  },
  scale: {
    run: scaleSuite,
    timeoutMs: 15 * 60_000,
    what: "tools/list of 5,000 tools via the gateway vs one server; Redis session store vs memory",
  },
};

const RESULTS = `${ROOT}bench/results`;

/** The results file: machine info of the last run and each suite's latest result. */
interface ResultsFile {
  machine: MachineInfo;
  command: string;
  quick: boolean;
  suites: Record<string, SuiteResult & { machine?: MachineInfo }>;
}

function usage(): string {
  return [
    "Usage: deno task bench [SUITE|all]... [--quick]",
    "",
    ...Object.entries(SUITES).map(([name, s]) => `  ${name.padEnd(10)} ${s.what}`),
    "  all        every suite (the default)",
    "",
    "  --quick   a short smoke run; results go to bench/results/quick.* instead of latest.*",
    "  --sim P   run the gateway and auth suites on another copy of the simulator (P is its mod.ts), e.g. the",
    "            last commit's exported with git archive, to compare a change; results go to sim-compare.*",
  ].join("\n");
}

/**
 * Every suite's target rows in one table (each suite's "Target" tables, read by their column names),
 * so the verdicts can be read in one place; the suites' sections below hold the measurements.
 */
function targetsSummary(file: ResultsFile): string[] {
  const rows: string[][] = [];
  for (const name of Object.keys(SUITES)) {
    const s = file.suites[name];
    if (!s) continue;
    for (const t of s.tables.filter((t) => t.title.startsWith("Target"))) {
      const col = (n: string) => t.columns.indexOf(n);
      const [measured, verdict, target] = [col("measured"), col("verdict"), col("target")];
      if (measured < 0 || verdict < 0) continue;
      for (const r of t.rows) {
        const what = target > 0 ? `${r[0]} (target ${r[target]})` : r[0];
        rows.push([name, s.startedAt.slice(0, 16).replace("T", " "), what, r[measured], r[verdict]]);
      }
    }
  }
  if (!rows.length) return [];
  const table = { title: "", columns: ["suite", "ran (UTC)", "target", "measured", "verdict"], rows };
  return ["## Targets, every suite", "", markdownTable(table), ""];
}

function renderMarkdown(file: ResultsFile): string {
  const m = file.machine;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(" / ");
  const out = [
    `# kubectl-mcp benchmarks${file.quick ? " (quick smoke run)" : ""}`,
    "",
    "Written by `deno task bench`; do not edit. Every comparison below was measured in the same run as " +
    "what it is compared with. Numbers are wall-clock on a shared machine: read the ratios, not the " +
    "absolute times.",
    "",
    "| machine | |",
    "| --- | --- |",
    `| date | ${m.date} |`,
    `| cores | ${m.cores} (${m.cpuModel}) |`,
    `| memory | ${bytes(m.memoryTotalBytes)} |`,
    `| OS | ${m.os} |`,
    `| Deno | ${m.deno} (V8 ${m.v8}, TypeScript ${m.typescript}) |`,
    `| kubectl | ${m.kubectl} (test/cluster/bin/kubectl) |`,
    `| load average (1/5/15 min) at start | ${load(m.loadavg)} |`,
    "",
  ];
  out.push(...targetsSummary(file));
  for (const name of Object.keys(SUITES)) {
    const s = file.suites[name];
    if (!s) continue;
    out.push(`## ${name}`, "");
    out.push(
      `Ran ${s.startedAt}, ${s.seconds.toFixed(0)} s; load average ${load(s.loadavg.start)} at start, ` +
        `${load(s.loadavg.end)} at end${
          s.machine && s.machine.date !== m.date ? ` (from the run of ${s.machine.date})` : ""
        }.`,
      "",
    );
    if (s.error) out.push(`**The suite failed:** ${s.error}`, "");
    for (const t of s.tables) out.push(`### ${t.title}`, "", markdownTable(t), "");
    if (s.notes.length) out.push(...s.notes.map((n) => `- ${n}`), "");
  }
  return out.join("\n");
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        quick: { type: "boolean", default: false },
        sim: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n${usage()}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(usage());
    return 0;
  }
  const wanted = parsed.positionals.length ? parsed.positionals : ["all"];
  for (const w of wanted) {
    if (w !== "all" && !SUITES[w]) {
      console.error(`Unknown suite ${w}.\n${usage()}`);
      return 2;
    }
  }
  const names = wanted.includes("all")
    ? Object.keys(SUITES)
    : Object.keys(SUITES).filter((n) => wanted.includes(n));
  const quick = parsed.values.quick ?? false;
  // A smoke run, or a run on another simulator, is not the project's figures: keep it out of latest.*.
  const scratch = quick ? "quick" : parsed.values.sim !== undefined ? "sim-compare" : undefined;

  const tmp = await Deno.makeTempDir({ prefix: "kubectl-mcp-bench-" });
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) Deno.exit(130);
    interrupted = true;
    console.error("Interrupted: stopping child processes.");
    void stopAll().finally(async () => {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      Deno.exit(130);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);

  const machine = await machineInfo();
  console.log(
    `kubectl-mcp bench: ${names.join(", ")}${
      quick ? " (quick)" : ""
    } on ${machine.cores} cores, Deno ${machine.deno}, ` +
      `load ${machine.loadavg.map((l) => l.toFixed(2)).join(" ")}`,
  );
  const results: Record<string, SuiteResult> = {};
  let failed = 0;
  try {
    for (const name of names) {
      const suite = SUITES[name];
      const result: SuiteResult = {
        name,
        startedAt: new Date().toISOString(),
        seconds: 0,
        loadavg: { start: Deno.loadavg(), end: [] },
        tables: [],
        notes: [],
        data: {},
      };
      console.log(`\n== ${name}: ${suite.what}`);
      const t0 = performance.now();
      try {
        await withTimeout(
          suite.run({ quick, tmp, sim: parsed.values.sim }, result),
          suite.timeoutMs,
          `suite ${name}`,
        );
      } catch (error) {
        failed++;
        result.error = error instanceof Error ? error.message : String(error);
        console.error(`suite ${name} failed: ${result.error}`);
      } finally {
        // A suite that timed out may have left servers running.
        await stopAll();
      }
      result.seconds = (performance.now() - t0) / 1000;
      result.loadavg.end = Deno.loadavg();
      results[name] = result;
      for (const t of result.tables) console.log(`\n${textTable(t)}`);
      for (const n of result.notes) console.log(`- ${n}`);
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }

  await Deno.mkdir(RESULTS, { recursive: true });
  const command = `deno task bench ${argv.join(" ")}`.trim();
  const thisRun: ResultsFile = { machine, command, quick, suites: results };
  if (scratch) {
    await Deno.writeTextFile(`${RESULTS}/${scratch}.json`, JSON.stringify(thisRun, null, 2) + "\n");
    await Deno.writeTextFile(`${RESULTS}/${scratch}.md`, renderMarkdown(thisRun));
    console.log(`\nWrote bench/results/${scratch}.json and ${scratch}.md`);
  } else {
    // latest.*: this run's suites replace the same suites of earlier runs; each keeps its machine info.
    let previous: ResultsFile | undefined;
    try {
      previous = JSON.parse(await Deno.readTextFile(`${RESULTS}/latest.json`));
    } catch {
      // First run.
    }
    const merged: ResultsFile = {
      machine,
      command,
      quick,
      suites: { ...previous?.suites },
    };
    for (const [name, r] of Object.entries(results)) merged.suites[name] = { ...r, machine };
    for (const s of Object.values(merged.suites)) s.machine ??= previous?.machine;
    await Deno.writeTextFile(`${RESULTS}/latest.json`, JSON.stringify(merged, null, 2) + "\n");
    await Deno.writeTextFile(`${RESULTS}/latest.md`, renderMarkdown(merged));
    const stamp = machine.date.replace(/\.\d+Z$/, "Z").replaceAll(":", "");
    await Deno.writeTextFile(`${RESULTS}/${stamp}.json`, JSON.stringify(thisRun, null, 2) + "\n");
    await Deno.writeTextFile(`${RESULTS}/${stamp}.md`, renderMarkdown(thisRun));
    console.log(`\nWrote bench/results/latest.json, latest.md, ${stamp}.json and ${stamp}.md`);
  }
  return failed ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
