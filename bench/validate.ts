/**
 * Validate suite: one generated 1,000-document file validated by `kubectl mcp validate` end to end
 * (a new process per run, as users run it), by the library in this process, and mapped by the real
 * kubectl with `create --dry-run=client`, in one run.
 *
 * @module
 */

import { parseManifests } from "../src/manifest/mod.ts";
import { parsePlainYaml } from "../src/manifest/plain_yaml.ts";
import { validateManifests } from "../src/validate/mod.ts";
import { validateWithoutEngine } from "../src/validate/without_cel.ts";
import { startOfflineKubectl } from "./kubectl_offline.ts";
import {
  count,
  DENO,
  KUBECTL,
  ms,
  ratio,
  runCommand,
  stats,
  type SuiteContext,
  type SuiteResult,
  targetsTable,
} from "./lib.ts";
import { generateManifests } from "./manifests.ts";

const DOCUMENTS = 1000;

/** Runs the validate suite. */
export async function validateSuite(ctx: SuiteContext, result: SuiteResult): Promise<void> {
  const runs = ctx.quick ? 2 : 7;
  const libRuns = ctx.quick ? 3 : 15;
  const notes = result.notes;
  const generated = generateManifests(DOCUMENTS);
  const file = `${ctx.tmp}/manifests-${DOCUMENTS}.yaml`;
  await Deno.writeTextFile(file, generated.text);
  notes.push(
    `The file: ${generated.documents} documents, ${count(generated.text.length / 1024)} KiB; ` +
      Object.entries(generated.kinds).map(([k, v]) => `${v} ${k.split(" ")[1]}`).join(", ") +
      `; ${generated.broken.length} objects broken on purpose (${
        [...new Set(generated.broken.map((b) => b.problem))].join(", ")
      }). Regenerate it with \`deno run -A bench/manifests.ts > FILE\`.`,
  );

  // Library, in process: parse and validate timed apart. The first run warms the JIT and is dropped.
  const parseMs: number[] = [];
  const validateMs: number[] = [];
  let report: ReturnType<typeof validateManifests> | undefined;
  for (let i = -1; i < libRuns; i++) {
    const t0 = performance.now();
    const docs = parseManifests(generated.text, file);
    const t1 = performance.now();
    report = validateManifests(docs);
    const t2 = performance.now();
    if (i >= 0) {
      parseMs.push(t1 - t0);
      validateMs.push(t2 - t1);
    }
  }
  const totalLib = parseMs.map((p, i) => p + validateMs[i]);

  const offline = await startOfflineKubectl(ctx.tmp);
  try {
    interface Subject {
      label: string;
      cmd: string;
      args: string[];
      samples: number[];
      codes: Set<number>;
      lastStdout: string;
      lastStderr: string;
    }
    const subject = (label: string, cmd: string, args: string[]): Subject => ({
      label,
      cmd,
      args,
      samples: [],
      codes: new Set(),
      lastStdout: "",
      lastStderr: "",
    });
    const subjects = [
      subject("kubectl mcp validate -f FILE", DENO, ["run", "-A", "main.ts", "validate", "-f", file]),
      ...["create", "apply"].map((verb) =>
        subject(`kubectl ${verb} --dry-run=client --validate=false -o name -f FILE`, KUBECTL, [
          verb,
          "--dry-run=client",
          "--validate=false",
          "-o",
          "name",
          "-f",
          file,
          ...offline.args,
        ])
      ),
    ];
    const requestCounts = new Map<string, number>();
    for (let round = -1; round < runs; round++) {
      for (let k = 0; k < subjects.length; k++) {
        const s = subjects[(k + Math.max(round, 0)) % subjects.length];
        const before = Object.values(offline.requests).reduce((a, b) => a + b, 0);
        const r = await runCommand(s.cmd, s.args, { captureStdout: true, timeoutMs: 120_000 });
        const after = Object.values(offline.requests).reduce((a, b) => a + b, 0);
        requestCounts.set(s.label, after - before);
        s.codes.add(r.code);
        s.lastStdout = r.stdout;
        s.lastStderr = r.stderr;
        if (round >= 0) s.samples.push(r.ms);
      }
    }
    // The exact command of the comparison, without --validate=false, once: it needs the OpenAPI
    // schema from a server, which the offline setup does not serve.
    const exact = await runCommand(KUBECTL, [
      "create",
      "--dry-run=client",
      "-o",
      "name",
      "-f",
      file,
      ...offline.args,
    ], {
      captureStdout: true,
      timeoutMs: 60_000,
    });

    const lib = stats(totalLib);
    const cli = stats(subjects[0].samples);
    const rows: string[][] = [[
      "validateManifests (library, in process; parse + validate)",
      ms(lib.median),
      ms(lib.p90),
      count(DOCUMENTS / (lib.median / 1000)),
      "-",
      `${report!.errors} errors, ${report!.warnings} warnings`,
    ]];
    const data: Record<string, unknown> = {
      documents: DOCUMENTS,
      fileBytes: generated.text.length,
      kinds: generated.kinds,
      broken: generated.broken,
      library: {
        runs: libRuns,
        parse: stats(parseMs),
        validate: stats(validateMs),
        total: lib,
        docsPerSecond: DOCUMENTS / (lib.median / 1000),
        errors: report!.errors,
        warnings: report!.warnings,
        objects: report!.objects,
      },
    };
    const commands: Record<string, unknown> = {};
    for (const s of subjects) {
      const st = stats(s.samples);
      const outLines = s.lastStdout.split("\n").filter(Boolean);
      const errLines = s.lastStderr.split("\n").filter(Boolean);
      let verdict: string;
      if (s.cmd === DENO) verdict = outLines[outLines.length - 1] ?? "";
      else {
        verdict = `${outLines.length} objects printed, ${
          errLines.filter((l) => l.includes("no matches for kind")).length
        } "no matches for kind"`;
      }
      rows.push([
        s.label,
        ms(st.median),
        ms(st.p90),
        count(DOCUMENTS / (st.median / 1000)),
        [...s.codes].join(","),
        verdict,
      ]);
      commands[s.label] = {
        args: s.args.map((a) => a.replaceAll(ctx.tmp, "$TMP")),
        wall: st,
        docsPerSecond: DOCUMENTS / (st.median / 1000),
        exitCodes: [...s.codes],
        stdoutLines: outLines.length,
        stderrHead: errLines.slice(0, 3).map((l) => l.replaceAll(file, "FILE")),
        serverRequestsPerRun: s.cmd === KUBECTL ? requestCounts.get(s.label) : undefined,
      };
    }
    data.commands = commands;
    result.tables.push({
      title:
        `Validating ${DOCUMENTS} documents: ${runs} runs per command (after 1 warm-up round, interleaved), ` +
        `${libRuns} library runs`,
      columns: ["what", "median", "p90", "docs/s", "exit", "verdict"],
      rows,
    });
    const create = stats(subjects[1].samples);
    result.tables.push({
      title: "Side by side",
      columns: ["comparison", "ratio of medians"],
      rows: [
        ["kubectl mcp validate (CLI) / kubectl create --dry-run=client", ratio(cli.median / create.median)],
        ["validateManifests (library) / kubectl create --dry-run=client", ratio(lib.median / create.median)],
        [
          "CLI / library (process start-up, module loading, reading and printing)",
          ratio(cli.median / lib.median),
        ],
      ],
    });
    result.tables.push(targetsTable("issue #15", [
      [
        "`kubectl mcp validate` of 1,000 documents / `kubectl create --dry-run=client`: <= 1.5x",
        ratio(cli.median / create.median),
        cli.median / create.median <= 1.5,
      ],
    ]));
    const libStats = data.library as { parse: { median: number }; validate: { median: number } };
    notes.push(
      `Library split: parsing (YAML with positions) ${ms(libStats.parse.median)}, validating ${
        ms(libStats.validate.median)
      } (medians).`,
      `The CLI reads this file ${
        parsePlainYaml(generated.text)
          ? "as plain YAML with its own reader (src/manifest/plain_yaml.ts), not the yaml package"
          : "with the yaml package (it is not plain YAML)"
      }, and ${
        validateWithoutEngine(parseManifests(generated.text, file))
          ? "loads no CEL engine: no document needs one (src/validate/without_cel.ts)"
          : "loads the CEL engine: a document needs it"
      }.`,
      "kubectl needs API discovery to map kinds even with --dry-run=client. With no cluster, the harness " +
        "served the discovery documents of the project's CRDs, the Gateway API and Kuadrant CRDs and core " +
        "v1 as a warm kubectl --cache-dir plus a loopback HTTP stub (bench/kubectl_offline.ts). " +
        `kubectl create made ${requestCounts.get(subjects[1].label)} discovery requests per run ` +
        "(re-discovery because the unserved v1alpha1 kind is missing from the cache) and nothing else: " +
        "it checks only that each kind maps, not the schema or CEL rules kubectl mcp validate checks.",
      `kubectl apply --dry-run=client is not client-only: it GETs every object and its namespace ` +
        `(${requestCounts.get(subjects[2].label)} requests per run to the stub, each answered 404 at once).`,
      `The exact \`kubectl create --dry-run=client -o name -f FILE\` (validation on) fails offline with exit ${exact.code}: ` +
        `"${
          exact.stderr.trim().split("\n")[0].replaceAll(file, "FILE")
        }". Its client-side schema validation needs the OpenAPI ` +
        "document from an API server, so only the --validate=false form is compared.",
    );
    data.exactCreate = {
      exitCode: exact.code,
      stderr: exact.stderr.replaceAll(file, "FILE").trim().split("\n").slice(0, 3),
    };
    result.data = data;
  } finally {
    await offline.close();
  }
}
