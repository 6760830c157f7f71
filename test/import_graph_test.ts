/**
 * The project's modules import one another without circles. A circle (a verb's module imported back
 * by the library it calls, a suite importing the harness that runs it) ties layers together so neither
 * can be loaded, tested or moved alone; dynamic and type-only imports count, since they tie the code
 * the same way. The graph is `deno info --json`'s, so it resolves imports exactly as Deno does.
 */

import { assert, assertEquals } from "./helpers/assert.ts";
import { REPO_ROOT, runProgram } from "./helpers/cli.ts";

/** The project's own code: everything else (node_modules, the cluster's Go build) is not ours. */
const PROJECT_PATHS = ["main.ts", "src", "sim", "bench", "test", "examples"];

/** One import between two of the project's modules. */
interface ImportEdge {
  to: string;
  /** `import("...")`. */
  dynamic: boolean;
  /** `import type` or an import only types use. */
  typeOnly: boolean;
}

async function projectModules(): Promise<string[]> {
  const found: string[] = [];
  const walk = async (path: string): Promise<void> => {
    const info = await Deno.lstat(path);
    // Symlinks lead out of the project (test/cluster/bin is the shared cluster build).
    if (info.isSymlink) return;
    if (info.isFile) {
      if (/\.[cm]?[jt]sx?$/.test(path)) found.push(path);
      return;
    }
    for await (const entry of Deno.readDir(path)) {
      if (entry.name !== "node_modules") await walk(`${path}/${entry.name}`);
    }
  };
  for (const path of PROJECT_PATHS) await walk(`${REPO_ROOT}/${path}`);
  return found.sort();
}

/** The import graph among `files` (paths), from `deno info --json` on a module importing them all. */
async function importGraph(files: readonly string[]): Promise<Map<string, ImportEdge[]>> {
  const dir = await Deno.makeTempDir({ prefix: "kubectl-mcp-import-graph-" });
  try {
    const entry = `${dir}/entry.ts`;
    await Deno.writeTextFile(
      entry,
      files.map((file) => `import ${JSON.stringify(new URL(`file://${file}`).href)};\n`).join(""),
    );
    // No npm or remote resolution: only file:// modules matter, and the test must not reach the network.
    const result = await runProgram(
      Deno.execPath(),
      ["info", "--json", "--no-npm", "--no-remote", "--config", `${REPO_ROOT}/deno.json`, entry],
      { timeoutMs: 60_000 },
    );
    assertEquals(result.code, 0, result.stderr);
    const info = JSON.parse(result.stdout) as {
      modules: {
        specifier: string;
        dependencies?: {
          code?: { specifier: string };
          type?: { specifier: string };
          isDynamic?: boolean;
        }[];
      }[];
    };
    const project = new URL(`file://${REPO_ROOT}/`).href;
    const display = (specifier: string) => decodeURIComponent(specifier.slice(project.length));
    const graph = new Map<string, ImportEdge[]>();
    for (const module of info.modules) {
      if (!module.specifier.startsWith(project)) continue;
      const edges: ImportEdge[] = [];
      for (const dependency of module.dependencies ?? []) {
        const target = dependency.code?.specifier ?? dependency.type?.specifier;
        if (!target?.startsWith(project)) continue;
        edges.push({
          to: display(target),
          dynamic: dependency.isDynamic ?? false,
          typeOnly: dependency.code === undefined,
        });
      }
      graph.set(display(module.specifier), edges);
    }
    return graph;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Strongly connected components with a circle in them (Tarjan), each sorted, in a stable order. */
function circles(graph: ReadonlyMap<string, readonly ImportEdge[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (node: string) => {
    index.set(node, index.size);
    low.set(node, index.get(node)!);
    stack.push(node);
    onStack.add(node);
    for (const { to } of graph.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node)!, index.get(to)!));
      }
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    const selfImport = (graph.get(node) ?? []).some((edge) => edge.to === node);
    if (component.length > 1 || selfImport) found.push(component.sort());
  };
  for (const node of [...graph.keys()].sort()) if (!index.has(node)) visit(node);
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

/** One shortest circle through the component's first module, as `a -> b -> a` (breadth-first). */
function describeCircle(graph: ReadonlyMap<string, readonly ImportEdge[]>, component: string[]): string {
  const members = new Set(component);
  const start = component[0];
  const cameFrom = new Map<string, { from: string; edge: ImportEdge }>();
  const queue = [start];
  let last: { from: string; edge: ImportEdge } | undefined;
  while (queue.length > 0 && !last) {
    const node = queue.shift()!;
    for (const edge of graph.get(node) ?? []) {
      if (!members.has(edge.to)) continue;
      if (edge.to === start) {
        last = { from: node, edge };
        break;
      }
      if (!cameFrom.has(edge.to)) {
        cameFrom.set(edge.to, { from: node, edge });
        queue.push(edge.to);
      }
    }
  }
  const arrow = (edge: ImportEdge) => edge.dynamic ? " -dynamic-> " : edge.typeOnly ? " -type-> " : " -> ";
  let path = `${arrow(last!.edge)}${start}`;
  for (let node = last!.from; node !== start; node = cameFrom.get(node)!.from) {
    path = `${arrow(cameFrom.get(node)!.edge)}${node}${path}`;
  }
  path = `${start}${path}`;
  return component.length > 2 ? `${path} (one of the circles among ${component.join(", ")})` : path;
}

Deno.test("the project's modules import one another without circles", async () => {
  const files = await projectModules();
  const graph = await importGraph(files);
  // Every file was resolved, so a circle cannot hide behind a module deno info did not read.
  const missing = files.map((file) => file.slice(REPO_ROOT.length + 1)).filter((file) => !graph.has(file));
  assertEquals(missing, [], "modules deno info did not read");
  const found = circles(graph).map((component) => describeCircle(graph, component));
  assertEquals(found, [], `import circles:\n${found.map((line) => `  ${line}`).join("\n")}\n`);
});

Deno.test("the circle check finds circles, dynamic and self imports included", () => {
  const edge = (to: string, dynamic = false): ImportEdge => ({ to, dynamic, typeOnly: false });
  const graph = new Map<string, ImportEdge[]>([
    ["a.ts", [edge("b.ts")]],
    ["b.ts", [edge("c.ts"), edge("d.ts")]],
    ["c.ts", [edge("a.ts", true)]],
    ["d.ts", []],
    ["e.ts", [edge("e.ts")]],
  ]);
  const found = circles(graph);
  assertEquals(found, [["a.ts", "b.ts", "c.ts"], ["e.ts"]]);
  assertEquals(
    describeCircle(graph, found[0]),
    "a.ts -> b.ts -> c.ts -dynamic-> a.ts (one of the circles among a.ts, b.ts, c.ts)",
  );
  assertEquals(describeCircle(graph, found[1]), "e.ts -> e.ts");
  assert(circles(new Map([["a.ts", [edge("b.ts")]], ["b.ts", []]])).length === 0);
});
