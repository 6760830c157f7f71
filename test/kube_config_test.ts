/**
 * Offline tests of kubeconfig loading (merge rules, overrides, in-cluster, exec plugins), error
 * mapping, and printer-column JSONPath evaluation.
 */

import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { ConfigError, UsageError } from "../src/errors.ts";
import { CredentialSource } from "../src/kube/auth.ts";
import { apiError } from "../src/kube/client.ts";
import { loadKubeconfig, parseTimeout, resolveConfig } from "../src/kube/config.ts";
import { columnCell, evaluateJsonPath, resourceTypeFor } from "../src/kube/resources.ts";
import { stringify } from "yaml";

const CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";

function kubeconfig(parts: {
  current?: string;
  clusters?: Record<string, Record<string, unknown>>;
  users?: Record<string, Record<string, unknown>>;
  contexts?: Record<string, Record<string, unknown>>;
}): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    ...(parts.current ? { "current-context": parts.current } : {}),
    clusters: Object.entries(parts.clusters ?? {}).map(([name, cluster]) => ({ name, cluster })),
    users: Object.entries(parts.users ?? {}).map(([name, user]) => ({ name, user })),
    contexts: Object.entries(parts.contexts ?? {}).map(([name, context]) => ({ name, context })),
  });
}

async function withDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kube_config_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const envOf = (vars: Record<string, string>) => (name: string) => vars[name];

Deno.test("KUBECONFIG files merge like kubectl: first definition of a name wins, first current-context wins", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/a`,
      kubeconfig({
        clusters: { shared: { server: "https://a.example:6443" } },
        users: { alice: { token: "token-a" } },
        contexts: { ctx: { cluster: "shared", user: "alice", namespace: "from-a" } },
      }),
    );
    await Deno.writeTextFile(
      `${dir}/b`,
      kubeconfig({
        current: "ctx",
        clusters: { shared: { server: "https://b.example:6443" }, other: { server: "https://other:6443" } },
        users: { alice: { token: "token-b" } },
        contexts: { ctx: { cluster: "other", user: "alice" } },
      }),
    );
    await Deno.writeTextFile(
      `${dir}/c`,
      kubeconfig({ current: "later", contexts: { later: { cluster: "other" } } }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/a:${dir}/missing:${dir}/b:${dir}/c` });
    const merged = loadKubeconfig({ env });
    assertEquals(
      merged.files,
      [`${dir}/a`, `${dir}/b`, `${dir}/c`],
      "missing KUBECONFIG entries are skipped",
    );
    assertEquals(merged.currentContext, "ctx");
    assertEquals([...merged.clusters.keys()], ["shared", "other"]);
    const config = resolveConfig({ env });
    assertEquals(config.server, "https://a.example:6443");
    assertEquals(config.auth.token, "token-a");
    assertEquals(config.namespace, "from-a");
    assertEquals(config.namespaceExplicit, false);
  });
});

Deno.test("--kubeconfig reads only that file, which must exist", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/env`,
      kubeconfig({
        current: "x",
        clusters: { x: { server: "https://env:1" } },
        contexts: { x: { cluster: "x" } },
      }),
    );
    await Deno.writeTextFile(
      `${dir}/flag`,
      kubeconfig({
        current: "y",
        clusters: { y: { server: "https://flag:1" } },
        contexts: { y: { cluster: "y" } },
      }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/env` });
    assertEquals(resolveConfig({ env, kubeconfig: `${dir}/flag` }).server, "https://flag:1");
    const error = assertThrows(() => resolveConfig({ env, kubeconfig: `${dir}/absent` }), ConfigError);
    assertStringIncludes(error.message, `${dir}/absent`);
  });
});

Deno.test("--context, --cluster, --user and -n override the kubeconfig; namespace defaults to default", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({
        current: "one",
        clusters: { c1: { server: "https://one:1" }, c2: { server: "https://two:2/" } },
        users: { u1: { token: "t1" }, u2: { username: "bob", password: "pw" } },
        contexts: {
          one: { cluster: "c1", user: "u1", namespace: "ns1" },
          two: { cluster: "c2", user: "u2" },
        },
      }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/config` });
    const two = resolveConfig({ env, context: "two" });
    assertEquals([two.server, two.namespace, two.userName], ["https://two:2", "default", "u2"]);
    assertEquals(two.auth.basic, { username: "bob", password: "pw" });
    const mixed = resolveConfig({ env, cluster: "c2", user: "u1", namespace: "explicit" });
    assertEquals([mixed.server, mixed.auth.token, mixed.namespace, mixed.namespaceExplicit], [
      "https://two:2",
      "t1",
      "explicit",
      true,
    ]);
    assertThrows(() => resolveConfig({ env, context: "nope" }), ConfigError, 'context "nope" does not exist');
    assertThrows(() => resolveConfig({ env, user: "nobody" }), ConfigError, 'user "nobody" does not exist');
  });
});

Deno.test("relative certificate, token file and exec command paths resolve against the kubeconfig's directory", async () => {
  await withDir(async (dir) => {
    await Deno.mkdir(`${dir}/sub`);
    await Deno.writeTextFile(`${dir}/sub/ca.crt`, CA_PEM);
    await Deno.writeTextFile(`${dir}/sub/token`, "file-token\n");
    await Deno.writeTextFile(
      `${dir}/sub/config`,
      kubeconfig({
        current: "c",
        clusters: { c: { server: "https://x:1", "certificate-authority": "ca.crt" } },
        users: {
          u: { tokenFile: "token" },
          e: { exec: { command: "./bin/plugin", apiVersion: "client.authentication.k8s.io/v1" } },
        },
        contexts: { c: { cluster: "c", user: "u" } },
      }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/sub/config` });
    const config = resolveConfig({ env });
    assertEquals(config.caPem, CA_PEM);
    assertEquals(config.auth.tokenFile, `${dir}/sub/token`);
    const credentials = await new CredentialSource(config).current();
    assertEquals(credentials.headers.Authorization, "Bearer file-token");
    assertEquals(
      resolveConfig({ env, user: "e" }).auth.exec?.command,
      `${dir}/sub/./bin/plugin`.replace("/./", "/"),
    );
  });
});

Deno.test("client certificates from data and files; a certificate without a key is an error", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/client.crt`, "CERT-PEM");
    await Deno.writeTextFile(`${dir}/client.key`, "KEY-PEM");
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({
        current: "data",
        clusters: { c: { server: "https://x:1", "certificate-authority-data": btoa(CA_PEM) } },
        users: {
          data: { "client-certificate-data": btoa("CERT-DATA"), "client-key-data": btoa("KEY-DATA") },
          files: { "client-certificate": `${dir}/client.crt`, "client-key": `${dir}/client.key` },
          half: { "client-certificate-data": btoa("CERT-DATA") },
        },
        contexts: { data: { cluster: "c", user: "data" } },
      }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/config` });
    const data = resolveConfig({ env });
    assertEquals([data.caPem, data.auth.certPem, data.auth.keyPem], [CA_PEM, "CERT-DATA", "KEY-DATA"]);
    const files = resolveConfig({ env, user: "files" });
    assertEquals([files.auth.certPem, files.auth.keyPem], ["CERT-PEM", "KEY-PEM"]);
    assertThrows(() => resolveConfig({ env, user: "half" }), ConfigError, "without a key");
  });
});

Deno.test("in-cluster configuration is used when no kubeconfig exists", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/token`, "sa-token");
    await Deno.writeTextFile(`${dir}/ca.crt`, CA_PEM);
    await Deno.writeTextFile(`${dir}/namespace`, "team-a");
    const env = envOf({
      HOME: `${dir}/home`,
      KUBERNETES_SERVICE_HOST: "10.0.0.1",
      KUBERNETES_SERVICE_PORT: "443",
    });
    const config = resolveConfig({ env, serviceAccountDir: dir });
    assertEquals([config.server, config.namespace, config.caPem, config.contextName], [
      "https://10.0.0.1:443",
      "team-a",
      CA_PEM,
      "in-cluster",
    ]);
    assertEquals((await new CredentialSource(config).current()).headers.Authorization, "Bearer sa-token");
    assertEquals(resolveConfig({ env, serviceAccountDir: dir, namespace: "other" }).namespace, "other");
    const ipv6 = resolveConfig({
      env: envOf({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" }),
      serviceAccountDir: dir,
    });
    assertEquals(ipv6.server, "https://[fd00::1]:443");
  });
});

Deno.test("no configuration at all is a ConfigError naming KUBECONFIG, --kubeconfig and ~/.kube/config", async () => {
  await withDir((dir) => {
    const error = assertThrows(() => resolveConfig({ env: envOf({ HOME: dir }) }), ConfigError);
    const text = `${error.message}\n${error.hint}`;
    for (const word of ["KUBECONFIG", "--kubeconfig", "~/.kube/config"]) assertStringIncludes(text, word);
    assert(!text.includes("localhost:8080"));
  });
});

Deno.test("the CLI reports a missing configuration with exit code 1", async () => {
  await withDir(async (dir) => {
    const result = await runCli(["get", "servers"], { env: { HOME: dir, KUBECONFIG: "" } });
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, "error: no Kubernetes configuration found");
    assertStringIncludes(result.stderr, "--kubeconfig");
  });
});

Deno.test("exec credential plugins get KUBERNETES_EXEC_INFO and are cached until expiry", async () => {
  await withDir(async (dir) => {
    const plugin = `${dir}/plugin.sh`;
    await Deno.writeTextFile(
      plugin,
      `#!/bin/sh
echo run >> "${dir}/runs"
printf '%s' "$KUBERNETES_EXEC_INFO" > "${dir}/info"
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"'"$PLUGIN_TOKEN"'"}}'
`,
    );
    await Deno.chmod(plugin, 0o755);
    await Deno.writeTextFile(
      `${dir}/config`,
      kubeconfig({
        current: "c",
        clusters: { c: { server: "https://x:1" } },
        users: {
          u: {
            exec: {
              apiVersion: "client.authentication.k8s.io/v1",
              command: "./plugin.sh",
              env: [{ name: "PLUGIN_TOKEN", value: "exec-token" }],
              provideClusterInfo: true,
              interactiveMode: "Never",
            },
          },
          bad: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "./nothing-here" } },
        },
        contexts: { c: { cluster: "c", user: "u" } },
      }),
    );
    const env = envOf({ KUBECONFIG: `${dir}/config` });
    const source = new CredentialSource(resolveConfig({ env }));
    assertEquals((await source.current()).headers.Authorization, "Bearer exec-token");
    assertEquals((await source.current()).headers.Authorization, "Bearer exec-token");
    assertEquals((await Deno.readTextFile(`${dir}/runs`)).trim().split("\n").length, 1, "cached");
    source.invalidate();
    await source.current();
    assertEquals(
      (await Deno.readTextFile(`${dir}/runs`)).trim().split("\n").length,
      2,
      "re-run after invalidate",
    );
    const info = JSON.parse(await Deno.readTextFile(`${dir}/info`));
    assertEquals(info.kind, "ExecCredential");
    assertEquals(info.spec.interactive, false);
    assertEquals(info.spec.cluster.server, "https://x:1");
    await assertRejects(
      () => new CredentialSource(resolveConfig({ env, user: "bad" })).current(),
      ConfigError,
      "could not run",
    );
  });
});

Deno.test("--request-timeout parses like kubectl's", () => {
  // Unlike kubectl, no flag is not forever: a bound a user can raise, or lift with 0.
  assertEquals(parseTimeout(undefined), 30_000);
  assertEquals(parseTimeout("0"), 0);
  assertEquals(parseTimeout("5"), 5000);
  assertEquals(parseTimeout("1m30s"), 90_000);
  assertEquals(parseTimeout("250ms"), 250);
  assertThrows(() => parseTimeout("soon"), UsageError, "--request-timeout");
});

Deno.test("API errors name what failed and what to do", () => {
  const config = { server: "https://k:6443", userName: "alice", contextName: "ctx" };
  const resource = { group: "mcp.kuadrant.io", plural: "mcpserverregistrations" };
  const forbidden = apiError(
    403,
    {
      reason: "Forbidden",
      message:
        'mcpserverregistrations.mcp.kuadrant.io is forbidden: User "alice" cannot list resource "mcpserverregistrations" in API group "mcp.kuadrant.io" in the namespace "team"',
    },
    { verb: "list", resource, namespace: "team" },
    config,
  );
  assertStringIncludes(forbidden.message, 'User "alice" cannot list resource "mcpserverregistrations"');
  assertStringIncludes(
    forbidden.hint!,
    "kubectl auth can-i list mcpserverregistrations.mcp.kuadrant.io -n team",
  );
  const unauthorized = apiError(401, { reason: "Unauthorized" }, {}, config);
  assertMatch(unauthorized.message, /logged in.*https:\/\/k:6443.*"alice"/);
  const namespace = apiError(404, {
    reason: "NotFound",
    message: 'namespaces "nope" not found',
    details: { name: "nope", kind: "namespaces" },
  }, {
    verb: "patch",
    resource,
    namespace: "nope",
    name: "x",
  }, config);
  assertStringIncludes(namespace.hint!, "kubectl create namespace nope");
  const noType = apiError(404, {
    reason: "NotFound",
    message: "the server could not find the requested resource",
  }, {
    verb: "list",
    resource,
  }, config);
  assertStringIncludes(noType.hint!, "kubectl mcp crds install");
  const conflict = apiError(
    409,
    {
      reason: "Conflict",
      message: "Apply failed with 2 conflicts",
      details: {
        causes: [
          {
            reason: "FieldManagerConflict",
            message: 'conflict with "other" using mcp.kuadrant.io/v1',
            field: ".spec.path",
          },
          {
            reason: "FieldManagerConflict",
            message: 'conflict with "other" using mcp.kuadrant.io/v1',
            field: ".spec.prefix",
          },
        ],
      },
    },
    { verb: "patch", resource, name: "github" },
    config,
  );
  assertStringIncludes(conflict.message, 'conflict with "other": .spec.path, .spec.prefix');
  assertStringIncludes(conflict.hint!, "--force-conflicts");
  assertEquals(conflict.status, 409);
});

Deno.test("printer-column JSONPaths evaluate as the API server's table printer does", () => {
  const object = {
    metadata: { name: "github", creationTimestamp: new Date(Date.now() - 90 * 60_000).toISOString() },
    spec: { prefix: "gh_", category: ["dev", "code"], tools: ["a", "b", "c"] },
    status: { conditions: [{ type: "Other", status: "False" }, { type: "Ready", status: "True" }] },
  };
  assertEquals(evaluateJsonPath(".status.conditions[?(@.type=='Ready')].status", object), ["True"]);
  assertEquals(evaluateJsonPath('.status.conditions[?(@.type=="Ready")].status', object), ["True"]);
  // A list longer than a spread into push() takes.
  const many = { items: Array.from({ length: 200_000 }, (_, i) => ({ ready: i % 2 === 0 })) };
  assertEquals(evaluateJsonPath(".items[*]", many).length, 200_000);
  assertEquals(evaluateJsonPath(".items[?(@.ready=='true')]", many).length, 100_000);
  assertEquals(evaluateJsonPath(".spec.tools[*]", object), ["a", "b", "c"]);
  assertEquals(evaluateJsonPath(".spec.tools[-1]", object), ["c"]);
  assertEquals(evaluateJsonPath(".spec.missing.deeper", object), []);
  assertEquals(
    columnCell({ name: "Category", type: "string", jsonPath: ".spec.category" }, object),
    '["dev","code"]',
  );
  assertEquals(columnCell({ name: "Tools", type: "integer", jsonPath: ".spec.tools.length()" }, object), "3");
  assertEquals(
    columnCell({ name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" }, object),
    "90m",
  );
  assertEquals(columnCell({ name: "Prefix", type: "string", jsonPath: ".spec.nothing" }, object), "");
});

Deno.test("resource type words and aliases", () => {
  for (
    const word of ["servers", "server", "registrations", "mcpsr", "mcpserverregistrations.mcp.kuadrant.io"]
  ) {
    assertEquals(resourceTypeFor(word).crd.kind, "MCPServerRegistration");
  }
  for (const word of ["virtual-servers", "virtual-server", "mcpvs"]) {
    assertEquals(resourceTypeFor(word).crd.kind, "MCPVirtualServer");
  }
  for (const word of ["gateways", "gateway", "gateway-extensions", "mcpge"]) {
    assertEquals(resourceTypeFor(word).crd.kind, "MCPGatewayExtension");
  }
  assertThrows(() => resourceTypeFor("pods"), UsageError, 'resource type "pods"');
});
