/**
 * Start-up suite: `kubectl-mcp --help` as users run it (`deno run -A main.ts`, the installed shim,
 * and `kubectl mcp` through kubectl's plugin lookup) against `kubectl version --client` of the real
 * kubectl, interleaved in one run so load affects every command alike.
 *
 * @module
 */

import {
  DENO,
  KUBECTL,
  ms,
  ratio,
  ROOT,
  runCommand,
  type Stats,
  stats,
  type SuiteContext,
  type SuiteResult,
  targetsTable,
} from "./lib.ts";

interface Subject {
  label: string;
  cmd: string;
  args: string[];
  env?: Record<string, string>;
  /** The command users run, for the table. */
  shown: string;
}

/** Finds an installed `kubectl-mcp` shim, or installs one into a temporary root with `deno task install`. */
async function findOrInstallShim(ctx: SuiteContext, notes: string[]): Promise<string | undefined> {
  const candidates = [
    Deno.env.get("KUBECTL_MCP_ROOT") ? `${Deno.env.get("KUBECTL_MCP_ROOT")}/bin/kubectl-mcp` : "",
    ...(Deno.env.get("PATH") ?? "").split(":").filter(Boolean).map((dir) => `${dir}/kubectl-mcp`),
    `${Deno.env.get("HOME")}/.deno/bin/kubectl-mcp`,
  ].filter(Boolean);
  for (const path of candidates) {
    try {
      if ((await Deno.stat(path)).isFile) {
        notes.push(`Installed shim found at ${path}.`);
        return path;
      }
    } catch {
      // Not there.
    }
  }
  const root = `${ctx.tmp}/install`;
  const r = await runCommand(DENO, ["task", "install"], {
    env: { KUBECTL_MCP_ROOT: root },
    timeoutMs: 120_000,
    captureStdout: true,
  });
  if (r.code !== 0) {
    notes.push(
      `No kubectl-mcp shim installed, and \`deno task install\` into a temporary root failed: ${
        r.stderr.trim().split("\n").pop()
      }`,
    );
    return undefined;
  }
  notes.push(
    "No kubectl-mcp shim was installed on this machine, so the harness ran `deno task install` with " +
      "KUBECTL_MCP_ROOT set to a temporary directory and timed that shim.",
  );
  return `${root}/bin/kubectl-mcp`;
}

/** Runs the start-up suite. */
export async function startupSuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const n = ctx.quick ? 3 : 15;
  const warmup = ctx.quick ? 1 : 2;
  const notes = result.notes;
  const empty = `${ctx.tmp}/empty.ts`;
  await Deno.writeTextFile(empty, "");
  const subjects: Subject[] = [
    {
      label: "kubectl-mcp (deno run)",
      cmd: DENO,
      args: ["run", "-A", "main.ts", "--help"],
      shown: "deno run -A main.ts --help",
    },
  ];
  const shim = await findOrInstallShim(ctx, notes);
  if (shim) {
    subjects.push({ label: "kubectl-mcp (shim)", cmd: shim, args: ["--help"], shown: "kubectl-mcp --help" });
    const bin = shim.slice(0, shim.lastIndexOf("/"));
    subjects.push({
      label: "kubectl mcp (plugin)",
      cmd: KUBECTL,
      args: ["mcp", "--help"],
      env: { PATH: `${bin}:${Deno.env.get("PATH") ?? ""}` },
      shown: "kubectl mcp --help",
    });
  }
  subjects.push(
    { label: "kubectl", cmd: KUBECTL, args: ["version", "--client"], shown: "kubectl version --client" },
    {
      label: "deno floor",
      cmd: DENO,
      args: ["run", "-A", "--no-config", empty],
      shown: "deno run of an empty file",
    },
  );
  const samples = new Map<string, number[]>(subjects.map((s) => [s.label, []]));
  // Interleaved and rotated: each round runs every command once, starting with a different one.
  for (let round = -warmup; round < n; round++) {
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(k + Math.max(round, 0)) % subjects.length];
      const r = await runCommand(s.cmd, s.args, { env: s.env, timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`${s.shown} exited ${r.code}: ${r.stderr.trim()}`);
      if (round >= 0) samples.get(s.label)!.push(r.ms);
    }
  }
  const summary: Record<string, Stats & { command: string }> = {};
  for (const s of subjects) summary[s.label] = { command: s.shown, ...stats(samples.get(s.label)!) };
  const kubectl = summary["kubectl"].median;
  result.tables.push({
    title: `CLI start-up, wall time of ${n} runs each (after ${warmup} warm-up rounds), interleaved`,
    columns: ["command", "median", "p90", "min", "max", "median / kubectl"],
    rows: subjects.map((s) => {
      const st = summary[s.label];
      return [s.shown, ms(st.median), ms(st.p90), ms(st.min), ms(st.max), ratio(st.median / kubectl)];
    }),
  });
  notes.push(
    `Each command ran with stdout discarded and a warm disk cache; \`kubectl\` is ${
      KUBECTL.replace(ROOT, "")
    }.`,
    "\"deno run of an empty file\" is the Deno runtime's own floor: the part of kubectl-mcp's start-up " +
      "no code change in this repository can remove.",
  );
  const main = summary["kubectl-mcp (deno run)"].median;
  const floor = summary["deno floor"].median;
  notes.push(
    `kubectl-mcp --help takes ${ratio(main / kubectl)} the time of kubectl version --client; ` +
      `${ms(main - floor)} of its median is module loading and the CLI above the Deno floor of ${ms(floor)}.`,
  );
  result.tables.push(targetsTable("issue #15", [
    [
      "`kubectl-mcp --help` start-up / `kubectl version --client`: <= 1.0x",
      ratio(main / kubectl),
      main <= kubectl,
    ],
  ]));
  result.data = { runs: n, warmup, subjects: summary, samples: Object.fromEntries(samples) };
}
