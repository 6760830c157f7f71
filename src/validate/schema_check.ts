/**
 * OpenAPI v3 structural schema checks with the API server's semantics for custom resources: every
 * error is reported (not only the first), a value of the wrong type stops checks below it, lengths
 * count Unicode code points, unknown fields are errors (strict field validation).
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import type { Schema } from "../model/schema.ts";
import { formatPath, isObject, jsonType } from "./path.ts";

/** One schema violation. */
export interface SchemaIssue {
  /** Finding code, e.g. `schema.enum`. */
  code: string;
  /** Sentence-case message naming the field. */
  message: string;
  /** Where the violation is. */
  path: FieldPath;
  /** Point at the key rather than the value (unknown fields). */
  atKey?: boolean;
  /**
   * Whether the API server counts this error as blocking CEL evaluation (type, required, enum,
   * maxLength, maxItems violations: `hasBlockingErr` in the apiextensions registry strategy).
   */
  blocking: boolean;
}

/** Options of {@linkcode checkSchema}. */
export interface CheckSchemaOptions {
  /** Only report unknown fields (for subtrees the API server drops before validating, e.g. status on create). */
  unknownFieldsOnly?: boolean;
  /** Paths (formatted) whose unknown-field errors are reported elsewhere (e.g. renamed fields). */
  ignoreUnknown?: ReadonlySet<string>;
}

const TYPE_ARTICLE: Record<string, string> = {
  string: "a string",
  integer: "an integer",
  number: "a number",
  boolean: "a boolean",
  array: "an array",
  object: "an object",
  null: "null",
};

function typeMatches(schema: Schema, value: unknown): boolean {
  if (schema.type === "any") return true;
  const actual = jsonType(value);
  if (schema.nullable && actual === "null") return true;
  return actual === schema.type;
}

function quote(value: unknown): string {
  return JSON.stringify(value);
}

const patterns = new Map<string, RegExp>();

/** The compiled `pattern`, made once: a thousand objects share a few patterns. */
function patternOf(pattern: string): RegExp {
  let regex = patterns.get(pattern);
  if (!regex) patterns.set(pattern, regex = new RegExp(pattern, "u"));
  return regex;
}

/** Checks `value` against `schema`; `path` is where `value` sits in the object. */
export function checkSchema(
  value: unknown,
  schema: Schema,
  path: FieldPath = [],
  options: CheckSchemaOptions = {},
): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  walk(value, schema, path, options, issues);
  return issues;
}

function walk(
  value: unknown,
  schema: Schema,
  path: FieldPath,
  options: CheckSchemaOptions,
  issues: SchemaIssue[],
) {
  // Formatted only for a message: most fields are valid, and formatting every path was a regex test
  // per segment per field.
  const field = () => formatPath(path);
  const only = options.unknownFieldsOnly ?? false;
  if (!typeMatches(schema, value)) {
    if (!only) {
      issues.push({
        code: "schema.type",
        message: `Field "${field()}" must be ${TYPE_ARTICLE[schema.type]}, not ${
          TYPE_ARTICLE[jsonType(value)]
        }`,
        path,
        blocking: true,
      });
    }
    return;
  }
  if (value === null) return;
  switch (schema.type) {
    case "string": {
      if (only) return;
      const text = value as string;
      // Code points, as the API server counts; only when a length is checked.
      const length = schema.maxLength !== undefined || schema.minLength !== undefined ? [...text].length : 0;
      if (schema.enum && !schema.enum.includes(text)) {
        issues.push({
          code: "schema.enum",
          message: `Field "${field()}" must be one of ${schema.enum.map(quote).join(", ")}, not ${
            quote(text)
          }`,
          path,
          blocking: true,
        });
      }
      if (schema.maxLength !== undefined && length > schema.maxLength) {
        issues.push({
          code: "schema.max-length",
          message: `Field "${field()}" must be at most ${schema.maxLength} characters long, not ${length}`,
          path,
          blocking: true,
        });
      }
      if (schema.minLength !== undefined && length < schema.minLength) {
        issues.push({
          code: "schema.min-length",
          message: `Field "${field()}" must be at least ${schema.minLength} character${
            schema.minLength === 1 ? "" : "s"
          } long`,
          path,
          blocking: false,
        });
      }
      if (schema.pattern !== undefined && !patternOf(schema.pattern).test(text)) {
        issues.push({
          code: "schema.pattern",
          message: `Field "${field()}" value ${quote(text)} must match the pattern ${schema.pattern}`,
          path,
          blocking: false,
        });
      }
      return;
    }
    case "integer": {
      if (only) return;
      const n = value as number;
      if (schema.minimum !== undefined && n < schema.minimum) {
        issues.push({
          code: "schema.minimum",
          message: `Field "${field()}" must be at least ${schema.minimum}, not ${n}`,
          path,
          blocking: false,
        });
      }
      if (schema.maximum !== undefined && n > schema.maximum) {
        issues.push({
          code: "schema.maximum",
          message: `Field "${field()}" must be at most ${schema.maximum}, not ${n}`,
          path,
          blocking: false,
        });
      }
      return;
    }
    case "boolean":
    case "any":
      return;
    case "array": {
      const items = value as unknown[];
      if (!only) {
        if (schema.maxItems !== undefined && items.length > schema.maxItems) {
          issues.push({
            code: "schema.max-items",
            message: `Field "${field()}" must have at most ${schema.maxItems} item${
              schema.maxItems === 1 ? "" : "s"
            }, not ${items.length}`,
            path,
            blocking: true,
          });
        }
        if (schema.minItems !== undefined && items.length < schema.minItems) {
          issues.push({
            code: "schema.min-items",
            message: `Field "${field()}" must have at least ${schema.minItems} item${
              schema.minItems === 1 ? "" : "s"
            }`,
            path,
            blocking: false,
          });
        }
      }
      items.forEach((item, i) => walk(item, schema.items, [...path, i], options, issues));
      if (!only) checkListType(items, schema, path, issues);
      return;
    }
    case "object": {
      const object = value as Record<string, unknown>;
      if (!schema.properties && !schema.additionalProperties) return;
      if (!only) {
        for (const key of schema.required ?? []) {
          if (!(key in object)) {
            issues.push({
              code: "schema.required",
              message: `Missing required field "${formatPath([...path, key])}"`,
              path: [...path, key],
              blocking: true,
            });
          }
        }
      }
      for (const [key, child] of Object.entries(object)) {
        const childSchema = schema.properties?.[key] ?? schema.additionalProperties;
        const childPath = [...path, key];
        if (!childSchema) {
          if (schema.preserveUnknownFields) continue;
          const childField = formatPath(childPath);
          if (!options.ignoreUnknown?.has(childField)) {
            issues.push({
              code: "schema.unknown-field",
              message: `Unknown field "${childField}"`,
              path: childPath,
              atKey: true,
              blocking: false,
            });
          }
          continue;
        }
        walk(child, childSchema, childPath, options, issues);
      }
      return;
    }
  }
}

function checkListType(
  items: unknown[],
  schema: Schema & { type: "array" },
  path: FieldPath,
  issues: SchemaIssue[],
) {
  if (schema.listType === "set") {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      const key = JSON.stringify(item);
      if (seen.has(key)) {
        issues.push({
          code: "schema.duplicate",
          message: `Field "${formatPath([...path, i])}" duplicates an earlier item of the set`,
          path: [...path, i],
          blocking: false,
        });
      }
      seen.add(key);
    });
  } else if (schema.listType === "map" && schema.listMapKeys) {
    const seen = new Set<string>();
    items.forEach((item, i) => {
      if (!isObject(item)) return;
      const key = JSON.stringify(schema.listMapKeys!.map((k) => item[k]));
      if (seen.has(key)) {
        issues.push({
          code: "schema.duplicate",
          message: `Field "${formatPath([...path, i])}" duplicates the key ${
            schema.listMapKeys!.map((k) => `${k}=${quote(item[k])}`).join(", ")
          } of an earlier item`,
          path: [...path, i],
          blocking: false,
        });
      }
      seen.add(key);
    });
  }
}
