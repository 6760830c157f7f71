/**
 * zod models derived from the schema DSL, so verbs parse objects with the same rules the CRDs declare.
 * Unknown fields are rejected (strict), `metadata` is left open, CEL rules are not part of the zod
 * model (the validator evaluates them with a real CEL engine).
 *
 * @module
 */

import { z } from "zod";
import { gatewayExtensionSchema, serverRegistrationSchema, virtualServerSchema } from "./crds.ts";
import type { Infer, Schema } from "./schema.ts";

function codePoints(value: string): number {
  return [...value].length;
}

/** The zod type of a schema node. */
export function toZod<S extends Schema>(schema: S): z.ZodType<Infer<S>> {
  return build(schema) as unknown as z.ZodType<Infer<S>>;
}

function build(schema: Schema): z.ZodType {
  let type: z.ZodType;
  switch (schema.type) {
    case "string": {
      if (schema.enum) {
        type = z.enum(schema.enum as [string, ...string[]]);
        break;
      }
      let s: z.ZodType<string> = z.string();
      const { minLength, maxLength, pattern } = schema;
      if (minLength !== undefined) {
        s = s.refine((v) => codePoints(v) >= minLength, {
          message: `should be at least ${minLength} chars long`,
        });
      }
      if (maxLength !== undefined) {
        s = s.refine((v) => codePoints(v) <= maxLength, {
          message: `may not be more than ${maxLength} bytes`,
        });
      }
      if (pattern !== undefined) {
        const re = new RegExp(pattern, "u");
        s = s.refine((v) => re.test(v), { message: `should match '${pattern}'` });
      }
      type = s;
      break;
    }
    case "integer": {
      let n = z.number().int();
      if (schema.minimum !== undefined) n = n.min(schema.minimum);
      if (schema.maximum !== undefined) n = n.max(schema.maximum);
      type = n;
      break;
    }
    case "boolean":
      type = z.boolean();
      break;
    case "array": {
      let a = z.array(build(schema.items));
      if (schema.minItems !== undefined) a = a.min(schema.minItems);
      if (schema.maxItems !== undefined) a = a.max(schema.maxItems);
      type = a;
      break;
    }
    case "any":
      type = z.unknown();
      break;
    case "object": {
      if (!schema.properties) {
        type = z.record(
          z.string(),
          schema.additionalProperties ? build(schema.additionalProperties) : z.unknown(),
        );
        break;
      }
      const required = new Set<string>(schema.required ?? []);
      const shape: Record<string, z.ZodType> = {};
      for (const [key, child] of Object.entries(schema.properties)) {
        shape[key] = required.has(key) ? build(child) : build(child).optional();
      }
      type = z.strictObject(shape);
      break;
    }
  }
  return schema.nullable ? type.nullable() : type;
}

/** zod model of an MCPServerRegistration. */
export const MCPServerRegistrationModel = toZod(serverRegistrationSchema);
/** zod model of an MCPGatewayExtension. */
export const MCPGatewayExtensionModel = toZod(gatewayExtensionSchema);
/** zod model of an MCPVirtualServer. */
export const MCPVirtualServerModel = toZod(virtualServerSchema);
