/**
 * The validate corpus against a real API server: for every manifest of `test/corpus/`, the offline
 * verdict of `kubectl mcp validate` (only findings marked `apiserver: true`; cross-object rules are the
 * plugin's own) must agree with what kube-apiserver says to a server-side dry run with our CRDs, the
 * Gateway API CRDs and the Kuadrant CRDs installed.
 *
 * Two comparisons per case:
 * - per file: the library's verdict on the whole file against the real kubectl,
 *   `kubectl apply --server-side --dry-run=server --validate=strict -f FILE` (kubectl's own parse
 *   errors count as rejections, as they stop the file from reaching the cluster);
 * - per object: the library's verdict on each document alone against a server-side dry run of that
 *   object through the plugin's client (`dryRun=All`, `fieldValidation=Strict`), so that a file whose
 *   verdicts agree for the wrong objects is caught too.
 *
 * Transition-rule cases (`"old"` in the expectation) create the old objects for real first and delete
 * them after. The cluster is this file's own: the corpus uses fixed namespaces and names.
 */

import { assert } from "./helpers/assert.ts";
import { startCluster, type TestCluster } from "./cluster/cluster.ts";
import { CORPUS, corpusFiles, type Expectation, loadCase, readCase } from "./helpers/corpus.ts";
import { loadManifests, type ManifestDocument } from "../src/manifest/mod.ts";
import { validateManifests } from "../src/validate/mod.ts";
import { applyObject } from "../src/kube/apply.ts";
import { KubeClient, type KubeObject } from "../src/kube/client.ts";
import { isDnsLabel } from "../src/validate/mod.ts";

/** What a validator or an API server says to a manifest. */
type Verdict = Expectation["apiserver"];

function verdictOf(docs: ManifestDocument[], old?: ManifestDocument[], options: Expectation["options"] = {}) {
  const report = validateManifests(docs, { ...options, old });
  const reasons = report.findings.filter((f) => f.apiserver).map((f) => `${f.code}: ${f.message}`);
  return { verdict: (reasons.length ? "reject" : "accept") as Verdict, reasons };
}

function describe(object: unknown): string {
  const o = (object ?? {}) as KubeObject;
  return `${o.kind ?? "?"} ${o.metadata?.namespace ?? ""}${o.metadata?.namespace ? "/" : ""}${
    o.metadata?.name ?? "?"
  }`;
}

/** The API server's verdict on one object: a server-side dry run through the plugin's client. */
async function serverVerdict(
  client: KubeClient,
  object: unknown,
): Promise<{ verdict: Verdict; reason: string }> {
  if (!object || typeof object !== "object" || Array.isArray(object)) {
    return { verdict: "reject", reason: "not an object (kubectl cannot decode it)" };
  }
  try {
    await applyObject(client, object as KubeObject, { dryRun: "server" });
    return { verdict: "accept", reason: "" };
  } catch (error) {
    return { verdict: "reject", reason: (error as Error).message };
  }
}

async function kubectlOk(cluster: TestCluster, args: string[]): Promise<void> {
  const result = await cluster.kubectl(args);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${result.stderr}`);
}

Deno.test({
  name: "the corpus verdicts agree with a real API server's server-side dry run",
  async fn(t) {
    const files = corpusFiles(CORPUS);
    await using cluster = await startCluster({ controllerManager: false });
    using client = KubeClient.fromOptions({ kubeconfig: cluster.adminKubeconfig });

    // Every namespace the corpus names, so that a missing namespace never decides a verdict.
    const namespaces = new Set<string>();
    for (const file of files) {
      for (const doc of await loadManifests([file])) {
        const ns = (doc.object as KubeObject | undefined)?.metadata?.namespace;
        if (typeof ns === "string" && isDnsLabel(ns)) namespaces.add(ns);
      }
    }
    const existing = (await cluster.kubectl(["get", "namespaces", "-o", "name"])).stdout;
    for (const ns of namespaces) {
      if (!existing.includes(`namespace/${ns}\n`)) await kubectlOk(cluster, ["create", "namespace", ns]);
    }

    let fileAgree = 0;
    let objectAgree = 0;
    let objects = 0;
    const disagreements: string[] = [];
    for (const file of files) {
      const name = file.slice(CORPUS.length);
      await t.step(name, async () => {
        const corpusCase = await readCase(file);
        const { expect, oldFile } = corpusCase;
        const { docs, old } = await loadCase(corpusCase);
        const problems: string[] = [];
        if (oldFile) await kubectlOk(cluster, ["apply", "--server-side", "-f", oldFile]);
        try {
          // Per file, with the real kubectl.
          const ours = verdictOf(docs, old, expect.options);
          const kubectl = await cluster.kubectl([
            "apply",
            "--server-side",
            "--dry-run=server",
            "--validate=strict",
            "-f",
            file,
          ]);
          const theirs: Verdict = kubectl.code === 0 ? "accept" : "reject";
          if (ours.verdict === theirs) fileAgree++;
          else {
            problems.push(
              `file: validate says ${ours.verdict} (${
                ours.reasons.join("; ") || "no apiserver findings"
              }), ` +
                `kubectl says ${theirs} (${kubectl.stderr.trim() || kubectl.stdout.trim()})`,
            );
          }
          // Per object, through the plugin's client.
          for (const doc of docs) {
            objects++;
            const mine = doc.problems.length
              ? { verdict: "reject" as Verdict, reasons: doc.problems.map((p) => p.message) }
              : verdictOf([doc], old, expect.options);
            const server = doc.problems.length
              ? { verdict: "reject" as Verdict, reason: "YAML syntax error (kubectl cannot parse it)" }
              : await serverVerdict(client, doc.object);
            if (mine.verdict === server.verdict) objectAgree++;
            else {
              problems.push(
                `${describe(doc.object)}: validate says ${mine.verdict} (${
                  mine.reasons.join("; ") || "no apiserver findings"
                }), the API server says ${server.verdict}${server.reason ? ` (${server.reason})` : ""}`,
              );
            }
          }
        } finally {
          if (oldFile) {
            await kubectlOk(cluster, ["delete", "--ignore-not-found", "--wait=true", "-f", oldFile]);
          }
        }
        if (problems.length) disagreements.push(`${name}:\n    ${problems.join("\n    ")}`);
        assert(problems.length === 0, problems.join("\n"));
      });
    }
    console.log(
      `corpus against kube-apiserver: ${fileAgree} of ${files.length} files and ${objectAgree} of ${objects} ` +
        `objects agree` + (disagreements.length ? `; disagreements:\n  ${disagreements.join("\n  ")}` : ""),
    );
  },
});
