/**
 * What the validator may know about a PEM key held in a Secret without keeping the key: its kind,
 * algorithm and the SHA-256 of its public half (a private key's public half is derived). Two Secrets
 * pair when the hashes agree. Secrets read from a cluster are reduced to these facts
 * (`HEADER_VALUE_PROBLEMS`' sibling {@linkcode PEM_KEY_FACTS}); no message ever quotes a key.
 *
 * @module
 */

import type { KeyObject } from "node:crypto";
import { isObject } from "./path.ts";
import { secretValue } from "./secret_rules.ts";

/**
 * The field of a Secret read from the cluster (`validate --live`) that holds, per data key whose value
 * is a PEM key, its {@linkcode PemKeyFacts}: the reduced Secret keeps no values, only these.
 */
export const PEM_KEY_FACTS = "pemKeyFacts";

/** What a PEM value is, never the key itself. */
export interface PemKeyFacts {
  /** The PEM block's label, e.g. `EC PRIVATE KEY`, `PRIVATE KEY`, `PUBLIC KEY`. */
  label: string;
  /** Whether it holds a private or a public key. */
  type: "private" | "public";
  /** `ec` or `rsa` (node's asymmetricKeyType). */
  algorithm?: string;
  /** The curve of an EC key, e.g. `prime256v1` (P-256). */
  curve?: string;
  /** SHA-256 (hex) of the public key's SubjectPublicKeyInfo DER: equal hashes, one key pair. */
  publicKeySha256?: string;
  /** Why the value is not a usable key (it did not parse). */
  problem?: string;
}

/**
 * `node:crypto`, loaded on first use: a static import loads it for every validate run (about 50 ms
 * of start-up), while only files with PEM keys need it; a dynamic one would make validation async.
 */
function nodeCrypto(): typeof import("node:crypto") {
  // deno-lint-ignore no-process-global
  return process.getBuiltinModule("node:crypto") as typeof import("node:crypto");
}

/** The facts of a PEM text; undefined when it holds no PEM block. */
export function pemKeyFacts(text: string): PemKeyFacts | undefined {
  const label = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
  if (!label) return undefined;
  const { createHash, createPrivateKey, createPublicKey } = nodeCrypto();
  const type = label.includes("PRIVATE") ? "private" : "public";
  let key: KeyObject;
  try {
    key = type === "private"
      ? createPublicKey(createPrivateKey({ key: text, format: "pem" }))
      : createPublicKey({ key: text, format: "pem" });
  } catch {
    return { label, type, problem: `its "${label}" PEM block does not parse as a key` };
  }
  const der = key.export({ type: "spki", format: "der" });
  return {
    label,
    type,
    algorithm: key.asymmetricKeyType,
    curve: key.asymmetricKeyDetails?.namedCurve,
    publicKeySha256: createHash("sha256").update(der).digest("hex"),
  };
}

/**
 * The facts of the key under `key` of a Secret: computed from its value (a Secret in the files) or
 * read from {@linkcode PEM_KEY_FACTS} (a Secret from the cluster, reduced). Undefined when the Secret
 * has no such key or its value is not PEM.
 */
export function secretKeyFacts(secret: Record<string, unknown>, key: string): PemKeyFacts | undefined {
  const reduced = secret[PEM_KEY_FACTS];
  if (isObject(reduced)) return isObject(reduced[key]) ? reduced[key] as unknown as PemKeyFacts : undefined;
  const value = secretValue(secret, key);
  return value === undefined ? undefined : pemKeyFacts(value.value);
}

/** The facts of every PEM value of a Secret, by key: what a reduced Secret keeps. */
export function allPemKeyFacts(secret: Record<string, unknown>): Record<string, PemKeyFacts> {
  const out: Record<string, PemKeyFacts> = {};
  const keys = new Set([
    ...Object.keys(isObject(secret.data) ? secret.data : {}),
    ...Object.keys(isObject(secret.stringData) ? secret.stringData : {}),
  ]);
  for (const key of keys) {
    const value = secretValue(secret, key);
    const facts = value === undefined ? undefined : pemKeyFacts(value.value);
    if (facts) out[key] = facts;
  }
  return out;
}
