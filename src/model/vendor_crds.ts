/**
 * Vendors the Kuadrant CRDs the validator checks (`src/model/vendored/`): the manifests the test
 * cluster installs (`test/cluster/bin/crds/`, copied out of the Go modules pinned in
 * `test/cluster/crdsrc/go.mod`), reduced to what validation reads. Run after changing the pin:
 * `deno run -A src/model/vendor_crds.ts` (after `test/cluster/build.sh` copied the new manifests).
 * `vendored_test.ts` fails while the vendored files differ from the pinned manifests.
 *
 * @module
 */

import { parse } from "yaml";
import { vendorCrd, type VendoredCrd } from "./openapi.ts";

const ROOT = new URL("../../", import.meta.url);

/** Directory of the vendored CRDs. */
export const VENDORED_DIR: URL = new URL("./vendored/", import.meta.url);

/** The CRDs vendored: the Go module that ships each and its path there. */
export const VENDORED_SOURCES: readonly { module: string; path: string }[] = [
  { module: "github.com/kuadrant/kuadrant-operator", path: "config/crd/bases/kuadrant.io_authpolicies.yaml" },
  {
    module: "github.com/kuadrant/kuadrant-operator",
    path: "config/crd/bases/kuadrant.io_ratelimitpolicies.yaml",
  },
];

/** The version of `module` pinned in `test/cluster/crdsrc/go.mod`. */
export async function pinnedVersion(module: string): Promise<string> {
  const goMod = await Deno.readTextFile(new URL("test/cluster/crdsrc/go.mod", ROOT));
  const escaped = module.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const match = goMod.match(new RegExp(`^\\s*${escaped}\\s+(v\\S+)`, "m"));
  if (!match) throw new Error(`test/cluster/crdsrc/go.mod pins no version of ${module}`);
  return match[1];
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The file name of a vendored CRD: the manifest's, as JSON. */
export function vendoredFileName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1).replace(/\.ya?ml$/, ".json");
}

/** The vendored form of every pinned manifest, from the test cluster's copies. */
export async function vendorPinned(): Promise<{ fileName: string; crd: VendoredCrd }[]> {
  const out = [];
  for (const { module, path } of VENDORED_SOURCES) {
    const fileName = path.slice(path.lastIndexOf("/") + 1);
    const text = await Deno.readTextFile(new URL(`test/cluster/bin/crds/${fileName}`, ROOT));
    const source = { module, version: await pinnedVersion(module), path, sha256: await sha256Hex(text) };
    out.push({ fileName: vendoredFileName(path), crd: vendorCrd(parse(text), source) });
  }
  return out;
}

/** The text a vendored file has. */
export function vendoredText(crd: VendoredCrd): string {
  return JSON.stringify(crd, null, 2) + "\n";
}

if (import.meta.main) {
  await Deno.mkdir(VENDORED_DIR, { recursive: true });
  for (const { fileName, crd } of await vendorPinned()) {
    const url = new URL(fileName, VENDORED_DIR);
    await Deno.writeTextFile(url, vendoredText(crd));
    console.log(`wrote ${url.pathname} (${crd.source.module}@${crd.source.version})`);
  }
}
