/**
 * The rules about Kuadrant AuthPolicies beyond their CRD's schema, which the API server does not check
 * and Authorino or the broker trip over later:
 * - every CEL predicate (`when`, `patternMatching.patterns`) and CEL expression (`expression`,
 *   `urlExpression` of values, claims, headers and bodies) compiles as Authorino compiles it; an
 *   AuthConfig with one that does not is not reconciled, so the policy is never enforced;
 * - the request headers predicates and selectors read are ones the gateway sets (`policy_headers.ts`);
 * - a wristband in the `x-mcp-authorized` header is one the broker can verify (ES256, with the
 *   `allowed-capabilities` claim), signed with the key whose public half the extension's
 *   `trustedHeadersKey` Secret holds (`signing_keys.ts`).
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import type { Schema } from "../model/schema.ts";
import { foreignCrd, KIND_AUTH_POLICY, KUADRANT_GROUP } from "../model/vendored.ts";
import { compileCel, positionAt } from "../../sim/auth/cel.ts";
import { CelCompileError } from "../../sim/auth/types.ts";
import type { Entry, Index, Sink } from "./entries.ts";
import { formatPath, isObject } from "./path.ts";
import { celHeaderReads, headerProblem, type HeaderRead, selectorHeaderRead } from "./policy_headers.ts";
import { wristbandRules } from "./wristband_rules.ts";

/** A string field of a policy that holds CEL or a JSON selector. */
interface PolicyText {
  /** `predicate` (must be boolean), `expression` (any value) or `selector` (Authorino JSON path). */
  kind: "predicate" | "expression" | "selector";
  text: string;
  path: FieldPath;
}

/** The fields, declared by the CRD (not map keys a user chose), that hold CEL or a selector. */
const TEXT_FIELDS: Record<string, PolicyText["kind"]> = {
  predicate: "predicate",
  expression: "expression",
  urlExpression: "expression",
  selector: "selector",
};

/**
 * Every CEL and selector field of `value`, walked with its schema so that only declared fields count:
 * a rule or a header a user named `predicate` is a map key, not a predicate.
 */
function* policyTexts(value: unknown, schema: Schema | undefined, path: FieldPath): Generator<PolicyText> {
  if (!schema) return;
  if (Array.isArray(value) && schema.type === "array") {
    for (let i = 0; i < value.length; i++) yield* policyTexts(value[i], schema.items, [...path, i]);
    return;
  }
  if (!isObject(value) || schema.type !== "object") return;
  for (const [key, child] of Object.entries(value)) {
    const declared = schema.properties?.[key];
    const kind = declared?.type === "string" ? TEXT_FIELDS[key] : undefined;
    if (kind && typeof child === "string") yield { kind, text: child, path: [...path, key] };
    else yield* policyTexts(child, declared ?? schema.additionalProperties, [...path, key]);
  }
}

/** The spec schema of a policy's version, when the vendored CRD has that version. */
function specSchema(policy: Entry): Schema | undefined {
  const version = foreignCrd(policy.group, policy.kind)?.versions.find((v) => v.name === policy.version);
  return version?.schema.properties?.spec;
}

const WHAT: Record<PolicyText["kind"], string> = {
  predicate: "CEL predicate",
  expression: "CEL expression",
  selector: "JSON selector",
};

/** What the CEL and header findings of one policy kind say about who reads the policy. */
export interface PolicyReader {
  /** The hint of a CEL field that does not compile. */
  celHint: string;
  /** Whose view of the headers a header name with upper case misses (`Authorino's request.headers`). */
  headers: string;
  /** The CEL roots the evaluator declares (default Authorino's). */
  celRoots?: readonly string[];
}

const AUTHORINO: PolicyReader = {
  celHint:
    "Authorino does not reconcile an AuthConfig whose CEL does not compile, so the policy is not enforced.",
  headers: "Authorino's request.headers",
};

/**
 * The CEL and selector rules of one Kuadrant policy: every CEL field the CRD declares compiles, and
 * every request header it reads is one the gateway sets.
 */
export function policyTextRules(policy: Entry, sink: Sink, reader: PolicyReader): void {
  for (const text of policyTexts(policy.object.spec, specSchema(policy), ["spec"])) {
    const field = formatPath(text.path);
    let reads: HeaderRead[] | undefined;
    if (text.kind === "selector") {
      const read = selectorHeaderRead(text.text);
      reads = read ? [read] : [];
    } else {
      try {
        compileCel(text.text, { kind: text.kind, roots: reader.celRoots });
      } catch (error) {
        if (!(error instanceof CelCompileError)) throw error;
        const position = error.position;
        const at = position && !/line \d+, column \d+/.test(error.message)
          ? ` (line ${position.line}, column ${position.column})`
          : "";
        sink.add(
          policy,
          "error",
          "policy.cel",
          `${WHAT[text.kind]} "${field}" does not compile: ${error.message}${at}`,
          text.path,
          { hint: reader.celHint },
        );
        continue;
      }
      reads = celHeaderReads(text.text);
    }
    for (const read of reads ?? []) {
      const problem = headerProblem(read.name, reader.headers);
      if (!problem) continue;
      const { line, column } = positionAt(text.text, read.offset);
      sink.add(
        policy,
        "error",
        "policy.header",
        `${
          WHAT[text.kind]
        } "${field}" reads request header "${read.name}" (line ${line}, column ${column}), but ${problem.problem}` +
          (problem.suggestion ? `; did you mean "${problem.suggestion}"?` : ""),
        text.path,
        {
          hint: "The router sets x-mcp-method, x-mcp-toolname, x-mcp-promptname and x-mcp-servername on " +
            "the requests the policies see; header names are lower case.",
        },
      );
    }
  }
}

/** Runs the AuthPolicy rules over the policies in the files. */
export function authPolicyRules(
  index: Index,
  sink: Sink,
  options: { authorinoNamespace?: string } = {},
): void {
  for (const policy of index.ofKind(KIND_AUTH_POLICY, KUADRANT_GROUP)) {
    policyTextRules(policy, sink, AUTHORINO);
  }
  wristbandRules(index, sink, options);
}
