/**
 * The scaffolding verbs applied to a real API server (test/cluster): `register` (with the HTTPRoute
 * for a Service and the labelled credential Secret), `virtual-server create` and `gateway init`
 * server-side apply what they scaffold, idempotently; `--dry-run=server` persists nothing; the
 * namespace defaults from the kubeconfig context; conflicts name the other field manager; the
 * Secret value never appears in any output. The real kubectl checks the results, and its
 * `get mcpsr,mcpvs,mcpge -A` shows what `kubectl mcp get ... -A` shows.
 */

import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";

const SECRET_VALUE = "Bearer kr-0123456789-very-secret";

Deno.test("register, virtual-server create and gateway init apply to the cluster", async (t) => {
  const cluster = await sharedCluster();
  const ns = `reg-${crypto.randomUUID().slice(0, 8)}`;
  const work = await Deno.makeTempDir({ prefix: "kube_register_test_" });
  const env = { KUBECONFIG: cluster.adminKubeconfig };
  const cli = (args: string[], extraEnv: Record<string, string> = {}) =>
    runCli(args, { env: { ...env, ...extraEnv } });
  const outputs: string[] = [];
  const kubectl = async (args: string[], stdin?: string) => {
    const result = await cluster.kubectl(args, { stdin });
    assertEquals(result.code, 0, `kubectl ${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };
  await kubectl(["create", "namespace", ns]);
  await kubectl(["create", "service", "clusterip", "weather", "--tcp=8080:8080", "-n", ns]);
  try {
    const register = [
      "register",
      "weather",
      "--service",
      "weather:8080",
      "--hostname",
      "weather.mcp.local",
      "--credential",
      "weather-token",
      "--credential-from-literal",
      SECRET_VALUE,
      "--gateway",
      `${ns}/mcp-gateway`,
      "-n",
      ns,
    ];

    await t.step("register creates the HTTPRoute, the labelled Secret and the registration", async () => {
      const result = await cli(register);
      outputs.push(result.stdout, result.stderr);
      assertEquals(result.code, 0, result.stderr);
      assertEquals(result.stderr, "", "the Service exists, so there is nothing to warn about");
      assertEquals(
        result.stdout,
        "httproute.gateway.networking.k8s.io/weather-route serverside-applied\n" +
          "secret/weather-token serverside-applied\n" +
          "mcpserverregistration.mcp.kuadrant.io/weather serverside-applied\n",
      );
      const label = await kubectl([
        "get",
        "secret",
        "weather-token",
        "-n",
        ns,
        "-o",
        "jsonpath={.metadata.labels.mcp\\.kuadrant\\.io/secret}",
      ]);
      assertEquals(label, "true");
      const value = await kubectl([
        "get",
        "secret",
        "weather-token",
        "-n",
        ns,
        "-o",
        "jsonpath={.data.token}",
      ]);
      assertEquals(atob(value), SECRET_VALUE);
      const route = JSON.parse(await kubectl(["get", "httproute", "weather-route", "-n", ns, "-o", "json"]));
      assertEquals(route.spec.rules[0].backendRefs[0].name, "weather");
      assertEquals(route.spec.hostnames, ["weather.mcp.local"]);
      const registration = JSON.parse(
        await kubectl([
          "get",
          "mcpsr",
          "weather",
          "-n",
          ns,
          "-o",
          "json",
          "--show-managed-fields",
        ]),
      );
      assertEquals(registration.spec.prefix, "weather_");
      assertEquals(registration.spec.credentialRef.name, "weather-token");
      const managers = registration.metadata.managedFields.map((m: { manager: string }) => m.manager);
      assertEquals(managers, ["kubectl-mcp"]);
    });

    await t.step("running it again is idempotent; -o yaml redacts the Secret", async () => {
      const again = await cli(register);
      outputs.push(again.stdout, again.stderr);
      assertEquals(again.code, 0, again.stderr);
      assertStringIncludes(
        again.stdout,
        "mcpserverregistration.mcp.kuadrant.io/weather serverside-applied\n",
      );
      const yaml = await cli([...register, "-o", "yaml"]);
      outputs.push(yaml.stdout, yaml.stderr);
      assertEquals(yaml.code, 0, yaml.stderr);
      assertStringIncludes(yaml.stdout, "token: <redacted>");
      assert(!yaml.stdout.includes("managedFields"), "managedFields are hidden as kubectl does");
      const count = await kubectl(["get", "mcpsr,httproute,secret", "-n", ns, "-o", "name"]);
      assertEquals(count.trim().split("\n").sort(), [
        "httproute.gateway.networking.k8s.io/weather-route",
        "mcpserverregistration.mcp.kuadrant.io/weather",
        "secret/weather-token",
      ]);
    });

    await t.step("the Secret value appears in no output, not even in errors", async () => {
      const failed = await cli([
        "register",
        "search",
        "--route",
        "search-route",
        "--credential",
        "search-token",
        "--credential-from-literal",
        SECRET_VALUE,
        "-n",
        "no-such-namespace",
      ]);
      outputs.push(failed.stdout, failed.stderr);
      assertEquals(failed.code, 1, failed.stdout);
      assertStringIncludes(failed.stderr, "no-such-namespace");
      const dry = await cli([...register, "--dry-run=client", "-o", "json"]);
      outputs.push(dry.stdout, dry.stderr);
      for (const output of outputs) {
        assert(!output.includes(SECRET_VALUE), `the secret value leaked:\n${output}`);
        assert(!output.includes(btoa(SECRET_VALUE)), `the base64 secret value leaked:\n${output}`);
      }
    });

    await t.step("--dry-run=server asks the server and persists nothing", async () => {
      const result = await cli([
        "register",
        "github",
        "--route",
        "github-route",
        "-n",
        ns,
        "--dry-run=server",
      ]);
      assertEquals(result.code, 0, result.stderr);
      assertEquals(
        result.stdout,
        "mcpserverregistration.mcp.kuadrant.io/github serverside-applied (server dry run)\n",
      );
      // The route is not in the cluster: applying goes on, with a warning.
      assertStringIncludes(result.stderr, `HTTPRoute ${ns}/github-route`);
      const check = await cluster.kubectl([
        "get",
        "mcpsr",
        "github",
        "-n",
        ns,
        "--ignore-not-found",
        "-o",
        "name",
      ]);
      assertEquals(check.stdout, "");
      const rejected = await cli([
        "register",
        "github",
        "--route",
        "weather-route",
        "-n",
        ns,
        "--dry-run=server",
        "--prefix",
        "weather_",
      ]);
      assertEquals(rejected.code, 1, "a prefix already used on the same gateway is refused");
      assertStringIncludes(
        rejected.stderr,
        `"weather_" is already used by MCPServerRegistration ${ns}/weather in the cluster on gateway ${ns}/mcp-gateway`,
      );
    });

    await t.step("without -n, the namespace comes from the kubeconfig context", async () => {
      const config = JSON.parse(await Deno.readTextFile(cluster.adminKubeconfig));
      for (const context of config.contexts) context.context.namespace = ns;
      const kubeconfig = `${work}/context-ns.kubeconfig`;
      await Deno.writeTextFile(kubeconfig, JSON.stringify(config));
      const result = await cli(["register", "docs", "--route", "weather-route"], { KUBECONFIG: kubeconfig });
      assertEquals(result.code, 0, result.stderr);
      assertEquals(result.stdout, "mcpserverregistration.mcp.kuadrant.io/docs serverside-applied\n");
      assertEquals(
        await kubectl(["get", "mcpsr", "docs", "-n", ns, "-o", "name"]),
        "mcpserverregistration.mcp.kuadrant.io/docs\n",
      );
      const vs = await cli(["virtual-server", "create", "triage", "--tool", "weather_forecast,docs_search"], {
        KUBECONFIG: kubeconfig,
      });
      assertEquals(vs.code, 0, vs.stderr);
      assertEquals(vs.stdout, "mcpvirtualserver.mcp.kuadrant.io/triage serverside-applied\n");
      const tools = await kubectl(["get", "mcpvs", "triage", "-n", ns, "-o", "jsonpath={.spec.tools}"]);
      assertEquals(JSON.parse(tools), ["weather_forecast", "docs_search"]);
      // Offline, no kubeconfig is needed at all.
      const offline = await runCli(
        ["register", "docs", "--route", "weather-route", "--dry-run=client", "-o", "json"],
        { env: { KUBECONFIG: `${work}/missing.kubeconfig`, HOME: work } },
      );
      assertEquals(offline.code, 0, offline.stderr);
      assertEquals(JSON.parse(offline.stdout).metadata.namespace, "default");
    });

    await t.step("gateway init applies the extension and the AuthPolicy", async () => {
      const result = await cli([
        "gateway",
        "init",
        "--gateway",
        `${ns}/mcp-gateway`,
        "--listener",
        "mcp",
        "--public-host",
        "mcp.example.com",
        "--auth-issuer",
        "https://idp.example.com/realms/mcp",
      ]);
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(
        result.stdout,
        "mcpgatewayextension.mcp.kuadrant.io/mcp-gateway-extension serverside-applied\n",
      );
      assertStringIncludes(result.stdout, "authpolicy.kuadrant.io/mcp-gateway-mcp-auth serverside-applied\n");
      assertStringIncludes(result.stderr, `Gateway ${ns}/mcp-gateway`);
      const extension = JSON.parse(
        await kubectl(["get", "mcpge", "mcp-gateway-extension", "-n", ns, "-o", "json"]),
      );
      assertEquals(extension.spec.targetRef.sectionName, "mcp");
      const again = await cli([
        "gateway",
        "init",
        "--gateway",
        `${ns}/mcp-gateway`,
        "--listener",
        "mcp",
        "-n",
        ns,
      ]);
      assertEquals(again.code, 0, again.stderr);
    });

    await t.step(
      "a field-manager conflict names the other manager; --force-conflicts takes over",
      async () => {
        const theirs = `apiVersion: mcp.kuadrant.io/v1
kind: MCPServerRegistration
metadata: {name: weather, namespace: ${ns}}
spec:
  targetRef: {name: weather-route}
  prefix: weather_
  hint: set by someone else
`;
        await kubectl(["apply", "--server-side", "--field-manager=platform-team", "-f", "-"], theirs);
        const mine = [...register, "--hint", "weather forecasts"];
        const conflict = await cli(mine);
        assertEquals(conflict.code, 1, conflict.stdout);
        assertStringIncludes(conflict.stderr, 'conflict with "platform-team"');
        assertStringIncludes(conflict.stderr, ".spec.hint");
        assertStringIncludes(conflict.stderr, "--force-conflicts");
        assert(!conflict.stderr.includes(SECRET_VALUE));
        const forced = await cli([...mine, "--force-conflicts"]);
        assertEquals(forced.code, 0, forced.stderr);
        assertEquals(
          await kubectl(["get", "mcpsr", "weather", "-n", ns, "-o", "jsonpath={.spec.hint}"]),
          "weather forecasts",
        );
        const custom = await cli([
          "register",
          "weather",
          "--route",
          "weather-route",
          "-n",
          ns,
          "--field-manager",
          "mine",
        ]);
        assertEquals(custom.code, 0, custom.stderr);
        const managers = await kubectl([
          "get",
          "mcpsr",
          "weather",
          "-n",
          ns,
          "-o",
          "jsonpath={.metadata.managedFields[*].manager}",
        ]);
        assertEquals(managers.split(" ").sort(), ["kubectl-mcp", "mine", "platform-team"]);
      },
    );

    await t.step("kubectl get mcpsr,mcpvs,mcpge -A shows the columns kubectl mcp get -A shows", async () => {
      const theirs = await kubectl(["get", "mcpsr,mcpvs,mcpge", "-A"]);
      const tables = theirs.trim().split(/\n\s*\n/);
      assertEquals(tables.length, 3, theirs);
      for (const [index, type] of ["servers", "virtual-servers", "gateways"].entries()) {
        const ours = await cli(["get", type, "-A"]);
        assertEquals(ours.code, 0, ours.stderr);
        const mine = parseTable(ours.stdout);
        const expected = parseTable(tables[index]);
        assertEquals(mine.header, expected.header);
        // TOOLS is `.spec.tools.length()`: the API server's JSONPath has no length(), so kubectl shows a
        // blank cell where kubectl mcp get counts the tools. A known difference, left out here.
        const tools = mine.header.indexOf("TOOLS");
        const rows = (table: ReturnType<typeof parseTable>) =>
          table.rows.filter((cells) => cells[0] === ns)
            .map((cells) => cells.map((cell, i) => i === tools ? "" : cell))
            // kubectl prefixes names with the type when it prints several; AGE may tick between calls.
            .map((cells) => [cells[0], cells[1].replace(/^.*\//, ""), ...cells.slice(2, -1)]);
        assert(rows(expected).length > 0, tables[index]);
        assertEquals(rows(mine), rows(expected));
      }
    });
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    await Deno.remove(work, { recursive: true });
  }
});

/** Cells of a kubectl-style table, cut at the header's column starts (cells may be blank). */
function parseTable(text: string): { header: string[]; rows: string[][] } {
  const [header, ...lines] = text.trimEnd().split("\n");
  const starts = [...header.matchAll(/\S+/g)].map((m) => m.index!);
  const cut = (line: string) =>
    starts.map((start, i) => line.slice(start, starts[i + 1]).trim()).map((cell) =>
      cell === "<none>" ? "" : cell
    );
  return { header: cut(header), rows: lines.map(cut) };
}
