/**
 * Installed the way users install it (`deno task install`), the plugin is found and run by the real
 * kubectl, and kubectl's completion of `kubectl mcp ...` goes through `kubectl_complete-mcp`.
 */

import { assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { REPO_ROOT, runProgram } from "./helpers/cli.ts";

const KUBECTL = `${REPO_ROOT}/test/cluster/bin/kubectl`;

Deno.test("deno task install puts kubectl-mcp and kubectl_complete-mcp where kubectl finds them", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "kubectl-mcp-install-" });
  const home = await Deno.makeTempDir({ prefix: "kubectl-mcp-home-" });
  try {
    const installed = await runProgram(Deno.execPath(), ["task", "install"], {
      env: { KUBECTL_MCP_ROOT: root },
      timeoutMs: 120_000,
    });
    assertEquals(installed.code, 0, installed.stderr);
    const env = {
      PATH: `${root}/bin:${Deno.env.get("PATH")}`,
      HOME: home,
      // No cluster: the plugin must not need one for these verbs.
      KUBECONFIG: `${home}/missing-kubeconfig`,
    };
    await t.step("kubectl plugin list shows the plugin", async () => {
      const result = await runProgram(KUBECTL, ["plugin", "list"], { env, cwd: home });
      assertStringIncludes(result.stdout, `${root}/bin/kubectl-mcp`);
    });
    await t.step("kubectl mcp runs the plugin", async () => {
      const result = await runProgram(KUBECTL, ["mcp", "version", "-o", "json"], { env, cwd: home });
      assertEquals(result.code, 0, result.stderr);
      assertEquals(JSON.parse(result.stdout).pluginVersion.length > 0, true);
    });
    await t.step("kubectl completes verbs through kubectl_complete-mcp", async () => {
      const result = await runProgram(KUBECTL, ["__complete", "mcp", ""], { env, cwd: home });
      assertEquals(result.code, 0, result.stderr);
      for (const verb of ["register", "validate", "simulate", "tools"]) {
        assertStringIncludes(result.stdout, verb);
      }
      assertStringIncludes(result.stdout, ":4");
    });
    await t.step("kubectl completes flag values and names from manifests", async () => {
      const output = await runProgram(KUBECTL, ["__complete", "mcp", "tools", "-o", ""], { env, cwd: home });
      assertStringIncludes(output.stdout, "wide");
      const names = await runProgram(
        KUBECTL,
        [
          "__complete",
          "mcp",
          "tools",
          "-f",
          `${REPO_ROOT}/examples/virtual-servers.yaml`,
          "--virtual-server",
          "",
        ],
        { env, cwd: home },
      );
      assertStringIncludes(names.stdout, "mcp-demo/issue-triage");
      assertStringIncludes(names.stdout, "mcp-demo/travel");
    });
  } finally {
    await Deno.remove(root, { recursive: true });
    await Deno.remove(home, { recursive: true });
  }
});
