/**
 * Reading CRDs written by others (the Kuadrant CRDs) into the schema DSL, so the validator checks
 * their objects with the same code as the MCP ones. A vendored CRD is kept in the repository as its
 * CustomResourceDefinition minus what validation never reads (descriptions, printer columns), and
 * converted here when the validator loads it.
 *
 * The conversion refuses any keyword it does not model, so a new upstream CRD that starts using one
 * fails the vendoring (and its drift test) rather than being checked less strictly than the API
 * server checks it.
 *
 * @module
 */

import type { ArraySchema, ObjectSchema, Schema, SchemaCommon, StringSchema, XValidation } from "./schema.ts";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/** One served or unserved version of a vendored CRD. */
export interface VendoredCrdVersion {
  /** Version name, e.g. `v1`. */
  name: string;
  /** Whether the API server serves it. */
  served: boolean;
  /** Whether objects are stored in it. */
  storage: boolean;
  /** Whether the status subresource is enabled (status is then dropped on create). */
  statusSubresource: boolean;
  /** `openAPIV3Schema` without descriptions. */
  schema: JsonObject;
}

/** Where a vendored CRD comes from, so a reader can fetch the original. */
export interface VendoredCrdSource {
  /** Go module that ships the CRD, e.g. `github.com/kuadrant/kuadrant-operator`. */
  module: string;
  /** The module version pinned in `test/cluster/crdsrc/go.mod`. */
  version: string;
  /** Path of the manifest inside the module. */
  path: string;
  /** SHA-256 (hex) of the manifest as the module ships it. */
  sha256: string;
}

/** A CRD as the repository vendors it (JSON under `src/model/vendored/`). */
export interface VendoredCrd {
  /** Where it comes from. */
  source: VendoredCrdSource;
  /** API group. */
  group: string;
  /** Kind. */
  kind: string;
  /** Plural resource name. */
  plural: string;
  /** Namespaced or Cluster. */
  scope: string;
  /** Its versions. */
  versions: VendoredCrdVersion[];
}

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * A schema node without `description` keywords, at every level. Only keywords are dropped: a field
 * that happens to be named `description` (a key of `properties`) stays.
 */
export function withoutDescriptions(node: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "description") continue;
    if (key === "properties" && isJsonObject(value)) {
      out[key] = Object.fromEntries(
        Object.entries(value).map(([name, child]) => [name, withoutDescriptions(child as JsonObject)]),
      );
    } else if ((key === "items" || key === "additionalProperties") && isJsonObject(value)) {
      out[key] = withoutDescriptions(value);
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The vendored form of a CustomResourceDefinition object (as parsed from its YAML). */
export function vendorCrd(crd: unknown, source: VendoredCrdSource): VendoredCrd {
  if (!isJsonObject(crd) || !isJsonObject(crd.spec)) throw new Error("not a CustomResourceDefinition");
  const spec = crd.spec;
  const names = isJsonObject(spec.names) ? spec.names : {};
  const versions = Array.isArray(spec.versions) ? spec.versions.filter(isJsonObject) : [];
  return {
    source,
    group: String(spec.group),
    kind: String(names.kind),
    plural: String(names.plural),
    scope: String(spec.scope),
    versions: versions.map((version) => {
      const schema = isJsonObject(version.schema) ? version.schema.openAPIV3Schema : undefined;
      if (!isJsonObject(schema)) throw new Error(`version ${version.name} has no openAPIV3Schema`);
      return {
        name: String(version.name),
        served: version.served === true,
        storage: version.storage === true,
        statusSubresource: isJsonObject(version.subresources) && "status" in version.subresources,
        schema: withoutDescriptions(schema),
      };
    }),
  };
}

/** Keywords validation does not read: descriptions, and formats and map types it does not check. */
const IGNORED = new Set(["description", "x-kubernetes-map-type"]);

/** Converts an OpenAPI v3 structural schema node (as in a CRD) into the schema DSL. */
export function fromOpenApi(node: JsonObject, path = "<root>"): Schema {
  const seen = new Set(IGNORED);
  const take = (key: string): Json | undefined => {
    seen.add(key);
    return node[key];
  };
  const common: SchemaCommon = {};
  const fallback = take("default");
  if (fallback !== undefined) common.default = fallback;
  if (take("nullable") === true) common.nullable = true;
  const rules = take("x-kubernetes-validations");
  if (Array.isArray(rules)) {
    common.xValidations = rules.filter(isJsonObject).map((rule) => {
      const out: XValidation = { rule: String(rule.rule) };
      if (typeof rule.message === "string") out.message = rule.message;
      if (typeof rule.reason === "string") out.reason = rule.reason;
      if (typeof rule.fieldPath === "string") out.fieldPath = rule.fieldPath;
      return out;
    });
  }
  const preserve = take("x-kubernetes-preserve-unknown-fields") === true;
  const type = take("type");
  let schema: Schema;
  switch (type) {
    case undefined:
      if (!preserve) {
        throw new Error(`${path}: a node without a type needs x-kubernetes-preserve-unknown-fields`);
      }
      schema = { ...common, type: "any" };
      break;
    case "string": {
      const out: StringSchema = { ...common, type: "string" };
      const values = take("enum");
      if (Array.isArray(values)) out.enum = values.map(String);
      const pattern = take("pattern");
      if (typeof pattern === "string") out.pattern = pattern;
      const minLength = take("minLength");
      if (typeof minLength === "number") out.minLength = minLength;
      const maxLength = take("maxLength");
      if (typeof maxLength === "number") out.maxLength = maxLength;
      const format = take("format");
      if (typeof format === "string") out.format = format;
      schema = out;
      break;
    }
    case "integer": {
      const format = take("format");
      const minimum = take("minimum");
      const maximum = take("maximum");
      schema = {
        ...common,
        type: "integer",
        ...(typeof format === "string" ? { format } : {}),
        ...(typeof minimum === "number" ? { minimum } : {}),
        ...(typeof maximum === "number" ? { maximum } : {}),
      };
      break;
    }
    case "boolean":
      schema = { ...common, type: "boolean" };
      break;
    case "array": {
      const items = take("items");
      if (!isJsonObject(items)) throw new Error(`${path}: an array needs items`);
      const out: ArraySchema = { ...common, type: "array", items: fromOpenApi(items, `${path}[]`) };
      const minItems = take("minItems");
      if (typeof minItems === "number") out.minItems = minItems;
      const maxItems = take("maxItems");
      if (typeof maxItems === "number") out.maxItems = maxItems;
      const listType = take("x-kubernetes-list-type");
      if (listType === "atomic" || listType === "set" || listType === "map") out.listType = listType;
      const mapKeys = take("x-kubernetes-list-map-keys");
      if (Array.isArray(mapKeys)) out.listMapKeys = mapKeys.map(String);
      schema = out;
      break;
    }
    case "object": {
      const out: ObjectSchema = { ...common, type: "object" };
      const properties = take("properties");
      if (isJsonObject(properties)) {
        out.properties = Object.fromEntries(
          Object.entries(properties).map(([name, child]) => [
            name,
            fromOpenApi(child as JsonObject, `${path}.${name}`),
          ]),
        );
      }
      const required = take("required");
      if (Array.isArray(required)) out.required = required.map(String);
      const additional = take("additionalProperties");
      if (isJsonObject(additional)) out.additionalProperties = fromOpenApi(additional, `${path}{}`);
      else if (additional !== undefined) throw new Error(`${path}: additionalProperties must be a schema`);
      if (preserve) out.preserveUnknownFields = true;
      schema = out;
      break;
    }
    default:
      throw new Error(`${path}: type ${JSON.stringify(type)} is not modelled`);
  }
  const unknown = Object.keys(node).filter((key) => !seen.has(key));
  if (unknown.length > 0) throw new Error(`${path}: keywords not modelled: ${unknown.join(", ")}`);
  return schema;
}
