/**
 * Structural defaulting exactly as the API server applies it to custom resources: first nulls of
 * non-nullable fields without a default are dropped, then every missing (or null, non-nullable) field
 * with a default gets a deep copy of it, at every level of objects that exist, inside array items and
 * inside defaults just filled in. A default never creates a parent object that is missing.
 *
 * @module
 */

import { crdForKind, GROUP } from "./crds.ts";
import type { Schema } from "./schema.ts";

type Json = unknown;

function isObject(value: Json): value is Record<string, Json> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Deep copy of a JSON value. */
export function cloneJson<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

/**
 * Drops `null` values of non-nullable fields that have no default (the API server does this before
 * defaulting; non-nullable nulls that have a default are replaced by it in {@linkcode defaultInPlace}).
 */
export function pruneNullsInPlace(value: Json, schema: Schema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value) && schema.type === "array") {
    for (const item of value) pruneNullsInPlace(item, schema.items);
  } else if (isObject(value) && schema.type === "object") {
    for (const [key, child] of Object.entries(value)) {
      const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
      if (!childSchema) continue;
      if (child === null && !childSchema.nullable && childSchema.default === undefined) delete value[key];
      else pruneNullsInPlace(child, childSchema);
    }
  }
}

/** Applies the defaults of `schema` to `value` in place (no null pruning). */
export function defaultInPlace(value: Json, schema: Schema | undefined): void {
  if (!schema) return;
  if (Array.isArray(value) && schema.type === "array") {
    for (const item of value) defaultInPlace(item, schema.items);
    return;
  }
  if (!isObject(value) || schema.type !== "object") return;
  for (const [key, childSchema] of Object.entries(schema.properties ?? {})) {
    if (childSchema.default === undefined) continue;
    const current = value[key];
    if (!(key in value) || (current === null && !childSchema.nullable)) {
      value[key] = cloneJson(childSchema.default);
    }
  }
  for (const [key, child] of Object.entries(value)) {
    defaultInPlace(child, schema.properties?.[key] ?? schema.additionalProperties);
  }
}

/**
 * Returns a defaulted deep copy of `obj`. Without `schema`, the schema comes from the object's kind and
 * apiVersion (an MCP gateway kind in a version the model has); other objects come back copied unchanged.
 */
export function applyDefaults<T>(obj: T, schema?: Schema): T {
  const copy = cloneJson(obj);
  const resolved = schema ?? schemaOfObject(copy);
  pruneNullsInPlace(copy, resolved);
  defaultInPlace(copy, resolved);
  return copy;
}

/** The root schema of an MCP gateway object by its apiVersion and kind, if the model has it. */
export function schemaOfObject(obj: unknown): Schema | undefined {
  if (!isObject(obj) || typeof obj.kind !== "string" || typeof obj.apiVersion !== "string") return undefined;
  const [group, version] = obj.apiVersion.split("/");
  if (group !== GROUP || version === undefined) return undefined;
  return crdForKind(obj.kind)?.versions.find((v) => v.name === version)?.schema;
}
