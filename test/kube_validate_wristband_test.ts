/**
 * `kubectl mcp validate --live` pairs an AuthPolicy's `x-mcp-authorized` wristband signing key (a
 * Secret in Authorino's namespace, `kuadrant-system` when no Authorino or Kuadrant object says
 * otherwise) with the public key of the MCPGatewayExtension's `trustedHeadersKey` Secret, both read
 * from a real API server, and never prints either key.
 */

import { generateKeyPairSync } from "node:crypto";
import { stringify } from "yaml";
import { assert, assertEquals, assertStringIncludes } from "./helpers/assert.ts";
import { runCli } from "./helpers/cli.ts";
import { sharedCluster } from "./cluster/cluster.ts";
import { authPolicy, mcpExtension, mcpGateway, secret } from "./helpers/auth_objects.ts";

interface Report {
  findings: { severity: string; code: string; message: string; field?: string }[];
}

function keyPair(): { privateKey: string; publicKey: string } {
  return generateKeyPairSync("ec", {
    namedCurve: "P-256",
    privateKeyEncoding: { type: "sec1", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
}

/** A line from the middle of a PEM block: present in any output that leaks the key. */
function keyLine(pem: string): string {
  return pem.split("\n")[1];
}

Deno.test("validate --live pairs the wristband signing key with the extension's trustedHeadersKey", async (t) => {
  const cluster = await sharedCluster();
  const id = crypto.randomUUID().slice(0, 8);
  const ns = `vw-${id}`;
  const signingName = `wristband-signing-${id}`;
  const work = await Deno.makeTempDir({ prefix: "kube_validate_wristband_test_" });
  const signing = keyPair();
  const other = keyPair();
  const apply = async (...objects: unknown[]) => {
    const manifest = objects.map((object) => stringify(object)).join("---\n");
    const result = await cluster.kubectl(["apply", "--server-side", "--force-conflicts", "-f", "-"], {
      stdin: manifest,
    });
    assertEquals(result.code, 0, result.stderr);
  };
  const publicSecret = (pem: string) =>
    secret(ns, "trusted-headers-public-key", { data: { key: btoa(pem) } });
  const policy = (secretName: string) =>
    stringify(
      authPolicy(ns, "mcp-auth-policy", { kind: "Gateway", name: "mcp-gateway", sectionName: "mcp" }, {
        rules: {
          authentication: { keycloak: { jwt: { issuerUrl: "https://idp.example.com/realms/mcp" } } },
          response: {
            success: {
              headers: {
                "x-mcp-authorized": {
                  wristband: {
                    issuer: "authorino",
                    customClaims: {
                      "allowed-capabilities": { selector: "auth.identity.resource_access.@tostr" },
                    },
                    signingKeyRefs: [{ name: secretName, algorithm: "ES256" }],
                  },
                },
              },
            },
          },
        },
      }),
    );
  const validate = async (manifest: string, args: string[] = []) => {
    const file = `${work}/${crypto.randomUUID()}.yaml`;
    await Deno.writeTextFile(file, manifest);
    const result = await runCli(["validate", "-f", file, "-o", "json", ...args], {
      env: { KUBECONFIG: cluster.adminKubeconfig },
    });
    assert(result.code === 0 || result.code === 1, `exit ${result.code}: ${result.stderr}`);
    for (const pem of [signing.privateKey, signing.publicKey, other.publicKey]) {
      assert(
        !result.stdout.includes(keyLine(pem)) && !result.stderr.includes(keyLine(pem)),
        "a key was printed",
      );
    }
    const report = JSON.parse(result.stdout) as Report;
    return report.findings.filter((f) => f.code.startsWith("policy.wristband"));
  };

  const namespace = (name: string) => ({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
  await apply(namespace(ns), namespace("kuadrant-system"));
  await apply(
    mcpGateway(undefined, { namespace: ns, gatewayClassName: "test" }),
    mcpExtension({ trustedHeadersKey: { secretName: "trusted-headers-public-key" } }, {
      namespace: ns,
      name: "mcp-gateway-extension",
      gatewayNamespace: ns,
    }),
    publicSecret(other.publicKey),
    secret("kuadrant-system", signingName, { stringData: { "key.pem": signing.privateKey } }),
  );

  try {
    await t.step("a signing key that is not the public key's pair: an error only --live finds", async () => {
      assertEquals(await validate(policy(signingName)), []);
      const live = await validate(policy(signingName), ["--live"]);
      assertEquals(live.map((f) => `${f.severity} ${f.code}`), ["error policy.wristband-key"]);
      assertStringIncludes(
        live[0].message,
        `Secret kuadrant-system/${signingName} ("key.pem") does not pair with the public key in Secret ` +
          `${ns}/trusted-headers-public-key ("key") that MCPGatewayExtension ${ns}/mcp-gateway-extension`,
      );
      assertEquals(
        live[0].field,
        "spec.rules.response.success.headers.x-mcp-authorized.wristband.signingKeyRefs[0].name",
      );
    });

    await t.step("the matching public key passes", async () => {
      await apply(publicSecret(signing.publicKey));
      assertEquals(await validate(policy(signingName), ["--live"]), []);
    });

    await t.step("a signing key Secret that Authorino's namespace lacks is an error", async () => {
      const live = await validate(policy(`missing-${id}`), ["--live"]);
      assertEquals(live.map((f) => `${f.severity} ${f.code}`), ["error policy.wristband-key"]);
      assertStringIncludes(
        live[0].message,
        `Secret kuadrant-system/missing-${id}, the wristband's signing key, does not exist`,
      );
    });
  } finally {
    await cluster.kubectl(["delete", "namespace", ns, "--wait=false"]);
    await cluster.kubectl(["delete", "secret", signingName, "-n", "kuadrant-system", "--ignore-not-found"]);
    await Deno.remove(work, { recursive: true });
  }
});
