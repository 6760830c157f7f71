/**
 * The cross-object rules about Secrets: the references to them (names, keys, labels, whether they
 * exist), and the credentials they hold, which must be usable as HTTP header values.
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import {
  KIND_GATEWAY_EXTENSION,
  KIND_SERVER_REGISTRATION,
  SECRET_LABEL,
  SECRET_LABEL_VALUE,
} from "../model/crds.ts";
import { type Entry, type Index, isLive, isMcp, label, type Sink, str } from "./entries.ts";
import { DNS_SUBDOMAIN_RULE, isDnsSubdomain, secretKeyError } from "./metadata.ts";
import { isObject, valueAt } from "./path.ts";
import { invalidHeaderValue } from "../../sim/redact.ts";

interface SecretRef {
  owner: Entry;
  name: string;
  key: string;
  path: FieldPath;
  needsLabel: boolean;
  /** The value is sent as an HTTP header (a registration's credential), so it must be a valid one. */
  header: boolean;
}

/**
 * The field of a Secret read from the cluster (`validate --live`) that says, per data key, why its
 * value cannot be an HTTP header value: the reduced Secret keeps no values, only this.
 */
export const HEADER_VALUE_PROBLEMS = "headerValueProblems";

/** Whether a Secret `data` value is base64 the API server decodes (Go's standard encoding; CR and LF skipped). */
export function isBase64(value: string): boolean {
  const text = value.replace(/[\r\n]/g, "");
  return text.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(text);
}

/**
 * The value under `key` of a Secret as the API server stores it, with the field it came from:
 * `stringData` wins over `data`, as the API server merges them; `data` is decoded from base64.
 * Undefined when there is no such value (or `data` holds no base64).
 */
export function secretValue(
  secret: Record<string, unknown>,
  key: string,
): { field: "data" | "stringData"; value: string } | undefined {
  const stringData = secret.stringData;
  const data = secret.data;
  if (isObject(stringData) && typeof stringData[key] === "string") {
    return { field: "stringData", value: stringData[key] as string };
  }
  if (isObject(data) && typeof data[key] === "string" && isBase64(data[key] as string)) {
    return { field: "data", value: atob((data[key] as string).replace(/[\r\n]/g, "")) };
  }
  return undefined;
}

/**
 * Why the value under `key` of a Secret cannot be an HTTP header value (see `invalidHeaderValue`),
 * with the field it is in; undefined when it can, or when there is no such value. `data` is judged
 * by its bytes.
 */
export function secretHeaderValueProblem(
  secret: Record<string, unknown>,
  key: string,
): { field: "data" | "stringData"; problem: string } | undefined {
  const found = secretValue(secret, key);
  const problem = found && invalidHeaderValue(found.value);
  return found && problem ? { field: found.field, problem } : undefined;
}

function secretRefs(entry: Entry): SecretRef[] {
  const spec = entry.defaulted.spec;
  if (!isObject(spec)) return [];
  const refs: SecretRef[] = [];
  const ref = (field: string, defaultKey: string, header = false) => {
    const value = spec[field];
    if (isObject(value) && str(value.name)) {
      refs.push({
        owner: entry,
        name: value.name as string,
        key: str(value.key) ?? defaultKey,
        path: ["spec", field, "name"],
        needsLabel: true,
        header,
      });
    }
  };
  if (isMcp(entry, KIND_SERVER_REGISTRATION)) {
    ref("credentialRef", "token", true);
    ref("caCertSecretRef", "ca.crt");
  } else if (isMcp(entry, KIND_GATEWAY_EXTENSION)) {
    ref("caCertBundleRef", "ca.crt");
    const store = spec.sessionStore;
    if (isObject(store) && str(store.secretName)) {
      refs.push({
        owner: entry,
        name: store.secretName as string,
        key: "CACHE_CONNECTION_STRING",
        path: ["spec", "sessionStore", "secretName"],
        needsLabel: true,
        header: false,
      });
    }
    const trusted = spec.trustedHeadersKey;
    if (isObject(trusted) && str(trusted.secretName) && trusted.generate !== "Enabled") {
      refs.push({
        owner: entry,
        name: trusted.secretName as string,
        key: "key",
        path: ["spec", "trustedHeadersKey", "secretName"],
        needsLabel: false,
        header: false,
      });
    }
  }
  return refs;
}

/**
 * Secrets the registrations and extensions reference: they exist (or may), carry the label and key
 * the gateway needs, have names and keys the API server accepts, and hold credentials that can be
 * header values.
 */
export function secretRules(index: Index, sink: Sink) {
  const reported = new Set<string>();
  for (const entry of index.entries) {
    for (const ref of secretRefs(entry)) {
      const field = ref.path.slice(0, -1).join(".");
      if (!isDnsSubdomain(ref.name)) {
        sink.add(
          entry,
          "error",
          "ref.secret-invalid",
          `Secret name ${
            JSON.stringify(ref.name)
          } in "${field}" can name no Secret: a Secret name must be a ` +
            DNS_SUBDOMAIN_RULE,
          ref.path,
        );
        continue;
      }
      const keyError = secretKeyError(ref.key);
      if (keyError) {
        sink.add(
          entry,
          "error",
          "ref.secret-invalid",
          `Key ${JSON.stringify(ref.key)} in "${field}" can be in no Secret: ${keyError}`,
          [...ref.path.slice(0, -1), "key"],
        );
        continue;
      }
      const secret = index.find("Secret", entry.namespace, ref.name, "");
      if (!secret) {
        const known = index.known("Secret", "", entry.namespace, ref.name);
        sink.add(
          entry,
          known ? "error" : "warning",
          "ref.secret-missing",
          known
            ? `Secret ${entry.namespace}/${ref.name} in "${field}" is neither among the files nor in the cluster`
            : `Secret ${entry.namespace}/${ref.name} in "${field}" is not among the files; it must exist in the cluster`,
          ref.path,
        );
        continue;
      }
      if (isLive(secret)) {
        liveSecretRules(secret, ref, entry, field, sink);
        continue;
      }
      const labels = valueAt(secret.object, ["metadata", "labels"]);
      const labelKey = `${secret.namespace}/${secret.name}#label`;
      if (
        ref.needsLabel && !reported.has(labelKey) &&
        (!isObject(labels) || labels[SECRET_LABEL] !== SECRET_LABEL_VALUE)
      ) {
        reported.add(labelKey);
        sink.add(
          secret,
          "error",
          "secret.label",
          `Secret ${secret.namespace}/${secret.name} (used by ${label(entry)} "${field}") needs the label ` +
            `${SECRET_LABEL}: "${SECRET_LABEL_VALUE}" or the controller ignores it`,
          isObject(labels) ? ["metadata", "labels"] : ["metadata"],
        );
      }
      const data = valueAt(secret.object, ["data"]);
      const stringData = valueAt(secret.object, ["stringData"]);
      const has = (isObject(data) && ref.key in data) || (isObject(stringData) && ref.key in stringData);
      const keyKey = `${secret.namespace}/${secret.name}#${ref.key}`;
      if (!has && !reported.has(keyKey)) {
        reported.add(keyKey);
        sink.add(
          secret,
          "error",
          "secret.key-missing",
          `Secret ${secret.namespace}/${secret.name} has no key "${ref.key}" in data or stringData, which ` +
            `${label(entry)} "${field}" reads`,
          isObject(data) ? ["data"] : isObject(stringData) ? ["stringData"] : [],
        );
      }
      const invalid = ref.header ? secretHeaderValueProblem(secret.object, ref.key) : undefined;
      if (invalid && !reported.has(`${keyKey}#header`)) {
        reported.add(`${keyKey}#header`);
        sink.add(
          secret,
          "error",
          "credential.invalid",
          `Secret ${secret.namespace}/${secret.name} key "${ref.key}", which ${label(entry)} "${field}" ` +
            `sends as the Authorization header, is ${invalid.problem}`,
          [invalid.field, ref.key],
        );
      }
    }
  }
}

/** A Secret in the cluster cannot carry findings: they go on the reference in the files. */
function liveSecretRules(secret: Entry, ref: SecretRef, entry: Entry, field: string, sink: Sink) {
  const labels = valueAt(secret.object, ["metadata", "labels"]);
  if (ref.needsLabel && (!isObject(labels) || labels[SECRET_LABEL] !== SECRET_LABEL_VALUE)) {
    sink.add(
      entry,
      "error",
      "secret.label",
      `Secret ${secret.namespace}/${secret.name} in the cluster (used by "${field}") lacks the label ` +
        `${SECRET_LABEL}: "${SECRET_LABEL_VALUE}", so the controller ignores it`,
      ref.path,
      {
        hint:
          `kubectl label secret ${secret.name} -n ${secret.namespace} ${SECRET_LABEL}=${SECRET_LABEL_VALUE}`,
      },
    );
  }
  const data = valueAt(secret.object, ["data"]);
  if (!isObject(data) || !(ref.key in data)) {
    sink.add(
      entry,
      "error",
      "secret.key-missing",
      `Secret ${secret.namespace}/${secret.name} in the cluster has no key "${ref.key}", which "${field}" reads`,
      ref.path,
    );
  }
  const problems = valueAt(secret.object, [HEADER_VALUE_PROBLEMS]);
  const problem = ref.header && isObject(problems) ? problems[ref.key] : undefined;
  if (typeof problem === "string") {
    sink.add(
      entry,
      "error",
      "credential.invalid",
      `Secret ${secret.namespace}/${secret.name} in the cluster, key "${ref.key}", which "${field}" sends as ` +
        `the Authorization header, is ${problem}`,
      ref.path,
    );
  }
}
