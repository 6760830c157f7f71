/**
 * The `x-mcp-authorized` wristband: an AuthPolicy success header that Authorino signs and the broker
 * verifies before it filters `tools/list` by the `allowed-capabilities` claim. The broker (v0.9.0,
 * `validateJWTHeader`) accepts only ES256 with the ECDSA public key of its extension's
 * `trustedHeadersKey` Secret (key `key`); Authorino signs with the first of `signingKeyRefs`, a Secret
 * in Authorino's own namespace (where Kuadrant puts the AuthConfigs) whose `key.pem` holds an
 * `EC PRIVATE KEY` or `RSA PRIVATE KEY` PEM block (`NewSigningKey` refuses any other label). Any
 * mismatch and every wristband is rejected: the broker lists no tools to anyone.
 *
 * The key pairing needs both Secrets: from the files, or read from the cluster by `validate --live`
 * (reduced to public-key hashes, see `signing_keys.ts`).
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import { GATEWAY_API_GROUP, GROUP, KIND_GATEWAY_EXTENSION } from "../model/crds.ts";
import { KIND_AUTH_POLICY, KUADRANT_GROUP } from "../model/vendored.ts";
import { type Entry, type Index, isLive, label, type Sink, str } from "./entries.ts";
import { isObject, valueAt } from "./path.ts";
import { type PemKeyFacts, secretKeyFacts } from "./signing_keys.ts";

/** Where Kuadrant installs Authorino (and so its AuthConfigs and their wristband keys) by default. */
export const DEFAULT_AUTHORINO_NAMESPACE = "kuadrant-system";

/** The header the broker reads the wristband from. */
const WRISTBAND_HEADER = "x-mcp-authorized";
/** The claim the broker reads the allowed tools from. */
const CAPABILITIES_CLAIM = "allowed-capabilities";
/** The key of the signing key Secret Authorino reads. */
const SIGNING_KEY = "key.pem";
/** The key of the extension's public key Secret the broker reads. */
const PUBLIC_KEY = "key";

/** The wristband algorithms the CRD allows besides ES256, the only one the broker verifies. */
const OTHER_ALGORITHMS = ["ES384", "ES512", "RS256", "RS384", "RS512"];

/** Options of {@linkcode wristbandRules}. */
export interface WristbandRuleOptions {
  /** Namespace of Authorino (default {@linkcode DEFAULT_AUTHORINO_NAMESPACE}). */
  authorinoNamespace?: string;
}

interface WristbandHeader {
  /** The header as written (any case). */
  name: string;
  /** Path of the header's value. */
  path: FieldPath;
  value: Record<string, unknown>;
}

/** The `x-mcp-authorized` success headers of a policy, in `rules`, `defaults` and `overrides`. */
function wristbandHeaders(policy: Record<string, unknown>): WristbandHeader[] {
  const out: WristbandHeader[] = [];
  for (const base of [["spec"], ["spec", "defaults"], ["spec", "overrides"]]) {
    const path = [...base, "rules", "response", "success", "headers"];
    const headers = valueAt(policy, path);
    if (!isObject(headers)) continue;
    for (const [name, value] of Object.entries(headers)) {
      if (name.toLowerCase() === WRISTBAND_HEADER && isObject(value)) {
        out.push({ name, path: [...path, name], value });
      }
    }
  }
  return out;
}

/**
 * The Secrets (names, in Authorino's namespace) whose keys sign the `x-mcp-authorized` wristbands of an
 * AuthPolicy object: what `validate --live` reads to pair them with the extensions' public keys.
 */
export function wristbandSigningSecrets(policy: Record<string, unknown>): string[] {
  return wristbandHeaders(policy).flatMap((header) => {
    const refs = valueAt(header.value, ["wristband", "signingKeyRefs"]);
    const first = Array.isArray(refs) && isObject(refs[0]) ? str(refs[0].name) : undefined;
    return first ? [first] : [];
  });
}

/** The gateway listeners (`ns/name`, optional section) a policy governs. */
function policyGateways(index: Index, policy: Entry): { gateway: string; section?: string }[] {
  const targetRef = valueAt(policy.object, ["spec", "targetRef"]);
  if (!isObject(targetRef) || !str(targetRef.name)) return [];
  if (targetRef.kind === "Gateway") {
    return [{ gateway: `${policy.namespace}/${targetRef.name}`, section: str(targetRef.sectionName) }];
  }
  if (targetRef.kind !== "HTTPRoute") return [];
  const route = index.find("HTTPRoute", policy.namespace, targetRef.name as string, GATEWAY_API_GROUP);
  const parentRefs = route ? valueAt(route.object, ["spec", "parentRefs"]) : undefined;
  if (!route || !Array.isArray(parentRefs)) return [];
  return parentRefs.filter(isObject).filter((p) => (p.kind ?? "Gateway") === "Gateway").map((p) => ({
    gateway: `${str(p.namespace) || route.namespace}/${str(p.name) ?? ""}`,
    section: str(p.sectionName),
  }));
}

/** The extensions (files and cluster) whose broker receives the policy's requests. */
function extensionsOf(index: Index, policy: Entry): Entry[] {
  const listeners = policyGateways(index, policy);
  return index.allOfKind(KIND_GATEWAY_EXTENSION, GROUP).filter((extension) => {
    const targetRef = valueAt(extension.defaulted, ["spec", "targetRef"]);
    if (!isObject(targetRef)) return false;
    const gateway = `${str(targetRef.namespace) || extension.namespace}/${str(targetRef.name) ?? ""}`;
    return listeners.some((l) =>
      l.gateway === gateway && (l.section === undefined || l.section === str(targetRef.sectionName))
    );
  });
}

/** Why a signing key's facts do not make a key Authorino signs an ES256 wristband with. */
function signingKeyProblem(facts: PemKeyFacts, algorithm: string): string | undefined {
  if (facts.problem) return facts.problem;
  if (facts.type !== "private") {
    return `it holds a public key ("${facts.label}"), not the private key to sign with`;
  }
  const first = facts.label.split(" ")[0];
  if (first !== "EC" && first !== "RSA") {
    return `Authorino reads only "EC PRIVATE KEY" or "RSA PRIVATE KEY" PEM blocks, not "${facts.label}" ` +
      `(convert it with: openssl ec -in KEY, or openssl rsa -traditional -in KEY)`;
  }
  if (algorithm.startsWith("ES") && facts.algorithm !== "ec") {
    return `${algorithm} needs an EC key, not ${facts.algorithm}`;
  }
  if (algorithm.startsWith("RS") && facts.algorithm !== "rsa") {
    return `${algorithm} needs an RSA key, not ${facts.algorithm}`;
  }
  if (algorithm === "ES256" && facts.curve !== "prime256v1") {
    return `ES256 needs a P-256 (prime256v1) key, not ${facts.curve}`;
  }
  return undefined;
}

/** Runs the wristband rules over the AuthPolicies in the files. */
export function wristbandRules(index: Index, sink: Sink, options: WristbandRuleOptions = {}): void {
  const authorinoNamespace = options.authorinoNamespace ?? DEFAULT_AUTHORINO_NAMESPACE;
  for (const policy of index.ofKind(KIND_AUTH_POLICY, KUADRANT_GROUP)) {
    for (const header of wristbandHeaders(policy.object)) {
      const wristband = header.value.wristband;
      if (!isObject(wristband)) {
        sink.add(
          policy,
          "error",
          "policy.wristband",
          `Success header "${header.name}" is not a wristband: the broker verifies it as an ES256 JWT and ` +
            `lists no tools when it is not one`,
          header.path,
          { atKey: true },
        );
        continue;
      }
      const wristbandPath = [...header.path, "wristband"];
      const claims = wristband.customClaims;
      if (!isObject(claims) || !(CAPABILITIES_CLAIM in claims)) {
        sink.add(
          policy,
          "error",
          "policy.wristband",
          `Wristband "${header.name}" has no "${CAPABILITIES_CLAIM}" claim in "customClaims": the broker ` +
            `rejects a wristband without it and lists no tools`,
          isObject(claims) ? [...wristbandPath, "customClaims"] : wristbandPath,
          { atKey: true },
        );
      }
      const refs = wristband.signingKeyRefs;
      const first = Array.isArray(refs) && isObject(refs[0]) ? refs[0] : undefined;
      if (!first || !str(first.name)) continue;
      const refPath = [...wristbandPath, "signingKeyRefs", 0];
      const algorithm = str(first.algorithm) ?? "";
      // An algorithm outside the CRD's enum is a schema error already.
      if (algorithm !== "ES256" && OTHER_ALGORITHMS.includes(algorithm)) {
        sink.add(
          policy,
          "error",
          "policy.wristband",
          `Wristband "${header.name}" is signed with ${
            algorithm || "no algorithm"
          } (Authorino signs with the ` +
            `first of "signingKeyRefs"), but the broker verifies it only with ES256 and lists no tools otherwise`,
          [...refPath, "algorithm"],
        );
      }
      signingKeyPairing(index, sink, policy, first.name as string, algorithm, refPath, authorinoNamespace);
    }
  }
}

function signingKeyPairing(
  index: Index,
  sink: Sink,
  policy: Entry,
  secretName: string,
  algorithm: string,
  refPath: FieldPath,
  authorinoNamespace: string,
) {
  const where = `Secret ${authorinoNamespace}/${secretName}`;
  const add = (message: string, hint?: string) =>
    sink.add(policy, "error", "policy.wristband-key", message, [...refPath, "name"], hint ? { hint } : {});
  const secret = index.find("Secret", authorinoNamespace, secretName, "");
  if (!secret) {
    if (index.known("Secret", "", authorinoNamespace, secretName)) {
      add(
        `${where}, the wristband's signing key, does not exist: Authorino reads "signingKeyRefs" from its own ` +
          `namespace ${authorinoNamespace}, where Kuadrant puts the AuthConfigs`,
      );
    }
    return;
  }
  const signing = secretKeyFacts(secret.object, SIGNING_KEY);
  if (!signing) {
    add(
      `${where}${
        isLive(secret) ? " in the cluster" : ""
      } has no PEM key in "${SIGNING_KEY}", which Authorino signs with`,
    );
    return;
  }
  const problem = signingKeyProblem(signing, algorithm);
  if (problem) {
    add(`${where} ("${SIGNING_KEY}") cannot sign the wristband: ${problem}`);
    return;
  }
  for (const extension of extensionsOf(index, policy)) {
    const publicName = str(valueAt(extension.defaulted, ["spec", "trustedHeadersKey", "secretName"]));
    if (!publicName) continue;
    const publicSecret = index.find("Secret", extension.namespace, publicName, "");
    const verifying = publicSecret ? secretKeyFacts(publicSecret.object, PUBLIC_KEY) : undefined;
    if (!verifying?.publicKeySha256 || !signing.publicKeySha256) continue;
    if (verifying.publicKeySha256 !== signing.publicKeySha256) {
      add(
        `${where} ("${SIGNING_KEY}") does not pair with the public key in Secret ${extension.namespace}/` +
          `${publicName} ("${PUBLIC_KEY}") that ${label(extension)} verifies wristbands with: the broker ` +
          `rejects every wristband, so users see no tools`,
        "Derive the public key from the signing key (openssl ec -in key.pem -pubout) and store it under " +
          `"${PUBLIC_KEY}" of ${publicName}, or sign with the private half of that key.`,
      );
    }
  }
}
