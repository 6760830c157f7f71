/**
 * A small typed DSL for OpenAPI v3 structural schemas as the Kubernetes API server understands them.
 * Every builder carries the TypeScript type of the values it accepts, so `Infer<typeof schema>` gives
 * the object type, the zod model is derived from the same value (`zod.ts`) and the CRD YAML is rendered
 * from it (`crd.ts`).
 *
 * @module
 */

/** A CEL rule (`x-kubernetes-validations` item). */
export interface XValidation {
  /** The CEL expression; `self` is the value at this node, `oldSelf` the old value (transition rule). */
  rule: string;
  /** The message the API server reports when the rule evaluates to false. */
  message?: string;
  /** Reason the API server reports (FieldValueInvalid when absent). */
  reason?: string;
  /** Relative path the error is reported at instead of this node. */
  fieldPath?: string;
}

/** Attributes every schema node may carry. */
export interface SchemaCommon {
  /** Human readable description rendered into the CRD. */
  description?: string;
  /** Value the API server fills in when the field is missing (or null). */
  default?: unknown;
  /** Whether `null` is a valid value. */
  nullable?: boolean;
  /** CEL rules attached to this node. */
  xValidations?: XValidation[];
}

/** A string node. */
export interface StringSchema<T extends string = string> extends SchemaCommon {
  /** JSON type. */
  type: "string";
  /** Allowed values. */
  enum?: readonly T[];
  /** ECMA/RE2 compatible regular expression the value must match. */
  pattern?: string;
  /** Minimum length in Unicode code points. */
  minLength?: number;
  /** Maximum length in Unicode code points. */
  maxLength?: number;
  /** OpenAPI format, e.g. `date-time`. */
  format?: string;
  /** Phantom field carrying the value type; never set. */
  readonly __type?: T;
}

/** An integer node. */
export interface IntegerSchema extends SchemaCommon {
  /** JSON type. */
  type: "integer";
  /** OpenAPI format (`int32`, `int64`). */
  format?: string;
  /** Inclusive minimum. */
  minimum?: number;
  /** Inclusive maximum. */
  maximum?: number;
}

/** A boolean node. */
export interface BooleanSchema extends SchemaCommon {
  /** JSON type. */
  type: "boolean";
}

/** An array node. */
export interface ArraySchema<I extends Schema = Schema> extends SchemaCommon {
  /** JSON type. */
  type: "array";
  /** Schema of every item. */
  items: I;
  /** Minimum number of items. */
  minItems?: number;
  /** Maximum number of items. */
  maxItems?: number;
  /** `x-kubernetes-list-type`. */
  listType?: "atomic" | "set" | "map";
  /** `x-kubernetes-list-map-keys` when `listType` is `map`. */
  listMapKeys?: string[];
}

/** Properties of an object node. */
export type Properties = Record<string, Schema>;

/** An object node; without `properties` it accepts any object (used for `metadata`). */
export interface ObjectSchema<P extends Properties = Properties, R extends keyof P = keyof P>
  extends SchemaCommon {
  /** JSON type. */
  type: "object";
  /** Known fields. */
  properties?: P;
  /** Fields that must be present. */
  required?: readonly R[];
  /** Schema of the values of fields not in `properties` (a map, `additionalProperties`). */
  additionalProperties?: Schema;
  /** `x-kubernetes-preserve-unknown-fields`: fields the schema does not declare are kept, not errors. */
  preserveUnknownFields?: boolean;
}

/**
 * Any JSON value: an untyped node with `x-kubernetes-preserve-unknown-fields` (e.g. the `value` of a
 * Kuadrant AuthPolicy pattern). Only vendored CRDs have these; the MCP CRDs never do.
 */
export interface AnySchema extends SchemaCommon {
  /** Not an OpenAPI type: marks the absence of one. */
  type: "any";
}

/** Any schema node. */
export type Schema =
  | StringSchema<string>
  | IntegerSchema
  | BooleanSchema
  | ArraySchema<Schema>
  | ObjectSchema<Properties, string>
  | AnySchema;

type Simplify<T> = { [K in keyof T]: T[K] } & unknown;

/** The TypeScript type of the values a schema node accepts. */
export type Infer<S> = S extends StringSchema<infer T> ? T
  : S extends IntegerSchema ? number
  : S extends BooleanSchema ? boolean
  : S extends ArraySchema<infer I> ? Infer<I>[]
  : S extends AnySchema ? unknown
  : S extends ObjectSchema<infer P, infer R> ? Simplify<
      & { [K in R & keyof P]: Infer<P[K]> }
      & { [K in Exclude<keyof P, R>]?: Infer<P[K]> }
    >
  : never;

/** Options of {@linkcode str}. */
export type StringOptions<T extends string> = Omit<StringSchema<T>, "type" | "__type" | "enum">;

/** A string node. */
export function str(options: StringOptions<string> = {}): StringSchema<string> {
  return { type: "string", ...options };
}

/** A string node restricted to the given values. */
export function enumOf<const T extends string>(
  values: readonly T[],
  options: StringOptions<T> = {},
): StringSchema<T> {
  return { type: "string", enum: values, ...options };
}

/** An integer node. */
export function int(options: Omit<IntegerSchema, "type"> = {}): IntegerSchema {
  return { type: "integer", ...options };
}

/** A boolean node. */
export function bool(options: Omit<BooleanSchema, "type"> = {}): BooleanSchema {
  return { type: "boolean", ...options };
}

/** An array node. */
export function arr<I extends Schema>(
  items: I,
  options: Omit<ArraySchema<I>, "type" | "items"> = {},
): ArraySchema<I> {
  return { type: "array", items, ...options };
}

/** An object node with known properties. */
export function obj<const P extends Properties, const R extends keyof P & string = never>(
  properties: P,
  options: Omit<ObjectSchema<P, R>, "type" | "properties"> = {},
): ObjectSchema<P, R> {
  return { type: "object", properties, ...options };
}

/** Walks a schema along a path of property names and array indexes; undefined when it leaves the schema. */
export function schemaAt(schema: Schema, path: readonly (string | number)[]): Schema | undefined {
  let node: Schema | undefined = schema;
  for (const segment of path) {
    if (!node) return undefined;
    if (node.type === "array" && typeof segment === "number") node = node.items;
    else if (node.type === "object" && typeof segment === "string") {
      node = node.properties?.[segment] ?? node.additionalProperties;
    } else return undefined;
  }
  return node;
}
