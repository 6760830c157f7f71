/**
 * The rules about Kuadrant RateLimitPolicies beyond their CRD's schema:
 * - every CEL predicate (`when[].predicate`, at the top, in `defaults`/`overrides` and per limit) and
 *   counter expression (`counters[].expression`) compiles; the wasm-shim evaluates them on every
 *   request, and one that does not compile never limits as written;
 * - the `x-mcp-*` request headers they read are ones the gateway sets (`policy_headers.ts`), so a limit
 *   meant for one tool (`request.headers['x-mcp-toolname'] == '...'`) is not silently never applied;
 * - every rate's `window` is at least a second: the CRD's pattern (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`) lets
 *   `500ms` through, but kuadrant-operator hands Limitador whole seconds (`time.ParseDuration`, then
 *   `int(d.Seconds())`), so such a window becomes 0 seconds and `1500ms` becomes 1 second.
 *
 * Windows that do not match the pattern at all are schema findings (`schema.pattern`), and targets and
 * `sectionName`s that do not exist are the policy reference rules of `cross.ts`.
 *
 * @module
 */

import type { FieldPath } from "../manifest/load.ts";
import { KIND_RATE_LIMIT_POLICY, KUADRANT_GROUP } from "../model/vendored.ts";
import { type PolicyReader, policyTextRules } from "./auth_policy.ts";
import type { Entry, Index, Sink } from "./entries.ts";
import { formatPath, isObject } from "./path.ts";
import { parseWindow } from "../../sim/ratelimit/rate_limit_policy.ts";
import { WASM_SHIM_CEL_ROOTS } from "../../sim/ratelimit/limiter.ts";

const WASM_SHIM: PolicyReader = {
  celHint: "Kuadrant's data plane (the wasm-shim) evaluates this CEL on every request; CEL that does not " +
    "compile never matches, so the limit is not enforced as written.",
  headers: "the wasm-shim's request.headers",
  celRoots: WASM_SHIM_CEL_ROOTS,
};

/** Every `limits` map of a spec (implicit defaults, `defaults`, `overrides`) with its path. */
function* limitMaps(
  spec: Record<string, unknown>,
): Generator<{ limits: Record<string, unknown>; path: FieldPath }> {
  if (isObject(spec.limits)) yield { limits: spec.limits, path: ["spec", "limits"] };
  for (const key of ["defaults", "overrides"]) {
    const section = spec[key];
    if (isObject(section) && isObject(section.limits)) {
      yield { limits: section.limits, path: ["spec", key, "limits"] };
    }
  }
}

function rateRules(policy: Entry, sink: Sink) {
  const spec = policy.object.spec;
  if (!isObject(spec)) return;
  for (const { limits, path } of limitMaps(spec)) {
    for (const [name, limit] of Object.entries(limits)) {
      if (!isObject(limit) || !Array.isArray(limit.rates)) continue;
      limit.rates.forEach((rate, i) => {
        if (isObject(rate) && typeof rate.limit === "number" && rate.limit < 0) {
          const limitPath = [...path, name, "rates", i, "limit"];
          sink.add(
            policy,
            "warning",
            "policy.limit",
            `Field "${formatPath(limitPath)}": limit ${rate.limit} is negative; kuadrant-operator hands ` +
              "Limitador 0, so every request this limit applies to is refused",
            limitPath,
            { hint: "Use 0 to refuse every request on purpose, or a positive limit." },
          );
        }
        if (!isObject(rate) || typeof rate.window !== "string") return;
        const ms = parseWindow(rate.window);
        if (ms === undefined || (ms > 0 && ms % 1000 === 0)) return;
        const ratePath = [...path, name, "rates", i, "window"];
        const field = formatPath(ratePath);
        const seconds = Math.trunc(ms / 1000);
        if (seconds === 0) {
          sink.add(
            policy,
            "error",
            "policy.window",
            `Field "${field}": window "${rate.window}" is shorter than a second; Limitador counts whole ` +
              "seconds, so the limit gets a window of 0 seconds",
            ratePath,
            { hint: "Use a window of at least 1s (kuadrant-operator truncates windows to whole seconds)." },
          );
        } else {
          sink.add(
            policy,
            "warning",
            "policy.window",
            `Field "${field}": window "${rate.window}" is not a whole number of seconds; Limitador counts ` +
              `a window of ${seconds}s`,
            ratePath,
            { hint: "kuadrant-operator truncates windows to whole seconds; write the window in seconds." },
          );
        }
      });
    }
  }
}

/** Runs the RateLimitPolicy rules over the policies in the files. */
export function rateLimitPolicyRules(index: Index, sink: Sink): void {
  for (const policy of index.ofKind(KIND_RATE_LIMIT_POLICY, KUADRANT_GROUP)) {
    policyTextRules(policy, sink, WASM_SHIM);
    rateRules(policy, sink);
  }
}
