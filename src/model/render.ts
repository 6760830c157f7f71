/**
 * Renders {@linkcode CrdDefinition} values as `apiextensions.k8s.io/v1` CustomResourceDefinition
 * objects and YAML, the way controller-gen lays them out (keys sorted, one document per file).
 *
 * @module
 */

import { stringify } from "yaml";
import type { CrdDefinition, CrdVersion } from "./crds.ts";
import type { Schema } from "./schema.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The OpenAPI v3 form of a schema node, as it appears in a CRD. */
export function toOpenApi(schema: Schema): Record<string, Json> {
  const out: Record<string, Json> = schema.type === "any"
    ? { "x-kubernetes-preserve-unknown-fields": true }
    : { type: schema.type };
  if (schema.description !== undefined) out.description = schema.description;
  if (schema.default !== undefined) out.default = schema.default as Json;
  if (schema.nullable) out.nullable = true;
  switch (schema.type) {
    case "string":
      if (schema.enum) out.enum = [...schema.enum];
      if (schema.pattern !== undefined) out.pattern = schema.pattern;
      if (schema.minLength !== undefined) out.minLength = schema.minLength;
      if (schema.maxLength !== undefined) out.maxLength = schema.maxLength;
      if (schema.format !== undefined) out.format = schema.format;
      break;
    case "integer":
      if (schema.format !== undefined) out.format = schema.format;
      if (schema.minimum !== undefined) out.minimum = schema.minimum;
      if (schema.maximum !== undefined) out.maximum = schema.maximum;
      break;
    case "array":
      out.items = toOpenApi(schema.items);
      if (schema.minItems !== undefined) out.minItems = schema.minItems;
      if (schema.maxItems !== undefined) out.maxItems = schema.maxItems;
      if (schema.listType) out["x-kubernetes-list-type"] = schema.listType;
      if (schema.listMapKeys) out["x-kubernetes-list-map-keys"] = [...schema.listMapKeys];
      break;
    case "object":
      if (schema.properties) {
        out.properties = Object.fromEntries(
          Object.entries(schema.properties).map(([name, child]) => [name, toOpenApi(child)]),
        );
      }
      if (schema.required && schema.required.length > 0) out.required = [...schema.required];
      if (schema.additionalProperties) out.additionalProperties = toOpenApi(schema.additionalProperties);
      if (schema.preserveUnknownFields) out["x-kubernetes-preserve-unknown-fields"] = true;
      break;
  }
  if (schema.xValidations && schema.xValidations.length > 0) {
    out["x-kubernetes-validations"] = schema.xValidations.map((v) => {
      const rule: Record<string, Json> = { rule: v.rule };
      if (v.message !== undefined) rule.message = v.message;
      if (v.reason !== undefined) rule.reason = v.reason;
      if (v.fieldPath !== undefined) rule.fieldPath = v.fieldPath;
      return rule;
    });
  }
  return out;
}

function renderVersion(version: CrdVersion): Record<string, Json> {
  const out: Record<string, Json> = {
    name: version.name,
    served: version.served,
    storage: version.storage,
    schema: { openAPIV3Schema: toOpenApi(version.schema) },
  };
  if (version.printerColumns.length > 0) {
    out.additionalPrinterColumns = version.printerColumns.map((c) => {
      const column: Record<string, Json> = { name: c.name, type: c.type, jsonPath: c.jsonPath };
      if (c.description !== undefined) column.description = c.description;
      if (c.priority !== undefined) column.priority = c.priority;
      return column;
    });
  }
  if (version.deprecated) out.deprecated = true;
  if (version.deprecationWarning !== undefined) out.deprecationWarning = version.deprecationWarning;
  if (version.statusSubresource) out.subresources = { status: {} };
  return out;
}

/** A deep copy of a JSON value with every object's keys in sorted order, for stable output and comparison. */
export function sortKeys<T>(value: T): T {
  if (Array.isArray(value)) return value.map(sortKeys) as T;
  if (value && typeof value === "object") {
    return Object.fromEntries(
      Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    ) as T;
  }
  return value;
}

/** The CustomResourceDefinition object of a CRD, keys sorted. */
export function toCrdObject(crd: CrdDefinition): Record<string, Json> {
  return sortKeys({
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${crd.plural}.${crd.group}` },
    spec: {
      group: crd.group,
      names: {
        kind: crd.kind,
        listKind: crd.listKind,
        plural: crd.plural,
        singular: crd.singular,
        shortNames: crd.shortNames,
      },
      scope: crd.scope,
      versions: crd.versions.map(renderVersion),
    },
  }) as Record<string, Json>;
}

/** The YAML text of `crds/<fileName>` for a CRD. */
export function renderCrdYaml(crd: CrdDefinition): string {
  const header = "# Generated from src/model by `deno task crds`; do not edit.\n---\n";
  return header + stringify(toCrdObject(crd), { lineWidth: 0, indentSeq: false });
}
