/**
 * ObjectMeta checks the API server applies to every custom resource: name (DNS-1123 subdomain),
 * namespace (DNS-1123 label), label and annotation syntax, known metadata fields and their types.
 *
 * @module
 */

import type { SchemaIssue } from "./schema_check.ts";
import { formatPath, isObject, jsonType } from "./path.ts";

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME_PART = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ANNOTATIONS_MAX_BYTES = 256 * 1024;

const STRING_FIELDS = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion"];
const INTEGER_FIELDS = ["generation", "deletionGracePeriodSeconds"];
const TIME_FIELDS = ["creationTimestamp", "deletionTimestamp"];
const OTHER_FIELDS = ["labels", "annotations", "ownerReferences", "finalizers", "managedFields"];
const KNOWN_FIELDS = new Set([...STRING_FIELDS, ...INTEGER_FIELDS, ...TIME_FIELDS, ...OTHER_FIELDS]);

/** What a DNS-1123 subdomain is, as the API server's errors say it. */
export const DNS_SUBDOMAIN_RULE =
  "lowercase DNS-1123 subdomain: lowercase alphanumerics, '-' or '.', starting and ending with an " +
  "alphanumeric, at most 253 characters";

/** Whether a string is a DNS-1123 subdomain (what custom resource names must be). */
export function isDnsSubdomain(value: string): boolean {
  return value.length <= 253 && DNS1123_SUBDOMAIN.test(value);
}

/** Whether a string is a DNS-1123 label (what namespaces must be). */
export function isDnsLabel(value: string): boolean {
  return value.length <= 63 && DNS1123_LABEL.test(value);
}

/** The API server's rule for Secret and ConfigMap data keys, as its error messages state it. */
export const SECRET_KEY_RULE =
  "a valid Secret key must consist of alphanumerics, '-', '_' or '.' ([-._a-zA-Z0-9]+), at most 253 " +
  "characters, and must not be '.', '..' or start with '..'";

/** Why a string cannot be a Secret (or ConfigMap) data key, or undefined when it can be one. */
export function secretKeyError(key: string): string | undefined {
  if (key.length > 253 || !/^[-._a-zA-Z0-9]+$/.test(key) || key === "." || key.startsWith("..")) {
    return SECRET_KEY_RULE;
  }
  return undefined;
}

/** Why a string is not a qualified name (`prefix/name`), or undefined when it is one. */
export function qualifiedNameError(key: string): string | undefined {
  const parts = key.split("/");
  let name = key;
  if (parts.length === 2) {
    const [prefix, rest] = parts;
    if (prefix.length === 0) return "the prefix part must not be empty";
    if (!isDnsSubdomain(prefix)) return "the prefix part must be a DNS-1123 subdomain";
    name = rest;
  } else if (parts.length > 2) {
    return "a qualified name has at most one /";
  }
  if (name.length === 0) return "the name part must not be empty";
  if (name.length > 63) return "the name part must be at most 63 characters";
  if (!QUALIFIED_NAME_PART.test(name)) {
    return "the name part must consist of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric";
  }
  return undefined;
}

/** Checks `metadata` of a namespaced custom resource. */
export function checkMetadata(metadata: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  const push = (code: string, message: string, path: (string | number)[], blocking = false, atKey = false) =>
    issues.push({ code, message, path, blocking, atKey });
  if (metadata === undefined || metadata === null) {
    push("metadata.name", `Missing required field "metadata.name"`, ["metadata"], true);
    return issues;
  }
  if (!isObject(metadata)) {
    push("schema.type", `Field "metadata" must be an object, not ${jsonType(metadata)}`, ["metadata"], true);
    return issues;
  }
  for (const [key, value] of Object.entries(metadata)) {
    const path = ["metadata", key];
    if (!KNOWN_FIELDS.has(key)) {
      push("schema.unknown-field", `Unknown field "${formatPath(path)}"`, path, false, true);
    } else if (STRING_FIELDS.includes(key) && typeof value !== "string" && value !== null) {
      push("schema.type", `Field "${formatPath(path)}" must be a string, not ${jsonType(value)}`, path, true);
    } else if (INTEGER_FIELDS.includes(key) && jsonType(value) !== "integer" && value !== null) {
      push(
        "schema.type",
        `Field "${formatPath(path)}" must be an integer, not ${jsonType(value)}`,
        path,
        true,
      );
    }
  }
  const { name, generateName, namespace, labels, annotations } = metadata;
  if (typeof name !== "string" || name === "") {
    if (typeof generateName !== "string" || generateName === "") {
      push("metadata.name", `Missing required field "metadata.name"`, ["metadata", "name"], true);
    }
  } else if (!isDnsSubdomain(name)) {
    push(
      "metadata.name",
      `Field "metadata.name" value ${JSON.stringify(name)} must be a ${DNS_SUBDOMAIN_RULE}`,
      ["metadata", "name"],
    );
  }
  if (typeof namespace === "string" && namespace !== "" && !isDnsLabel(namespace)) {
    push(
      "metadata.namespace",
      `Field "metadata.namespace" value ${JSON.stringify(namespace)} must be a DNS-1123 label: ` +
        `lowercase alphanumerics or '-', starting and ending with an alphanumeric, at most 63 characters`,
      ["metadata", "namespace"],
    );
  }
  checkStringMap(labels, "labels", issues, (key, value, path) => {
    const keyError = qualifiedNameError(key);
    if (keyError) {
      push(
        "metadata.labels",
        `Label key ${JSON.stringify(key)} in "metadata.labels" is invalid: ${keyError}`,
        path,
        false,
        true,
      );
    }
    if (value.length > 63 || !LABEL_VALUE.test(value)) {
      push(
        "metadata.labels",
        `Label ${JSON.stringify(key)} value ${JSON.stringify(value)} is invalid: at most 63 alphanumerics, ` +
          `'-', '_' or '.', starting and ending with an alphanumeric`,
        path,
      );
    }
  });
  let annotationBytes = 0;
  checkStringMap(annotations, "annotations", issues, (key, value, path) => {
    annotationBytes += new TextEncoder().encode(key).length + new TextEncoder().encode(value).length;
    const keyError = qualifiedNameError(key.toLowerCase());
    if (keyError) {
      push(
        "metadata.annotations",
        `Annotation key ${JSON.stringify(key)} in "metadata.annotations" is invalid: ${keyError}`,
        path,
        false,
        true,
      );
    }
  });
  if (annotationBytes > ANNOTATIONS_MAX_BYTES) {
    push(
      "metadata.annotations",
      `Field "metadata.annotations" is too long: ${annotationBytes} bytes, at most ${ANNOTATIONS_MAX_BYTES}`,
      ["metadata", "annotations"],
      true,
    );
  }
  return issues;
}

function checkStringMap(
  map: unknown,
  field: "labels" | "annotations",
  issues: SchemaIssue[],
  check: (key: string, value: string, path: (string | number)[]) => void,
) {
  if (map === undefined || map === null) return;
  if (!isObject(map)) {
    issues.push({
      code: "schema.type",
      message: `Field "metadata.${field}" must be an object of strings, not ${jsonType(map)}`,
      path: ["metadata", field],
      blocking: true,
    });
    return;
  }
  for (const [key, value] of Object.entries(map)) {
    const path = ["metadata", field, key];
    if (typeof value !== "string") {
      issues.push({
        code: "schema.type",
        message: `Field "${formatPath(path)}" must be a string, not ${jsonType(value)}; quote it`,
        path,
        blocking: true,
      });
      continue;
    }
    check(key, value, path);
  }
}
