/**
 * CEL values back to JSON, as cel-go converts them for Authorino (`ValueToJSON`).
 *
 * @module
 */

import { type CelValue, isCelList, isCelMap, isCelUint } from "@bufbuild/cel";

/** Converts a CEL value to JSON, as Authorino's `ValueToJSON` (ints and uints become numbers). */
export function fromCel(value: CelValue | unknown): unknown {
  if (
    value === null || typeof value === "boolean" || typeof value === "string" || typeof value === "number"
  ) {
    return value;
  }
  if (typeof value === "bigint") return Number(value);
  if (isCelUint(value)) return Number(value.value);
  if (isCelList(value)) return [...value].map(fromCel);
  if (isCelMap(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of value) out[String(isCelUint(k) ? k.value : k)] = fromCel(v);
    return out;
  }
  if (value instanceof Uint8Array) return btoa(String.fromCharCode(...value));
  const message = (value as { message?: { $typeName?: string; seconds?: bigint; nanos?: number } }).message;
  if (message?.$typeName === "google.protobuf.Duration") {
    return celDuration(message.seconds ?? 0n, message.nanos ?? 0);
  }
  if (message?.$typeName === "google.protobuf.Timestamp") {
    return celTimestamp(message.seconds ?? 0n, message.nanos ?? 0);
  }
  if (Array.isArray(value)) return value.map(fromCel);
  if (typeof value === "object") {
    // Plain objects of the input come back as they went in (a selection such as `auth.identity`).
    const proto = Object.getPrototypeOf(value);
    if (proto === Object.prototype || proto === null) return value;
    return String(value);
  }
  return value;
}

// cel-go's conversions to a JSON value: a duration as its seconds (`3600s`, `1.5s`), a timestamp in
// RFC 3339 with nanoseconds, trailing zeros dropped (Go's time.RFC3339Nano).
function celDuration(seconds: bigint, nanos: number): string {
  return `${Number(seconds) + nanos / 1e9}s`;
}

function celTimestamp(seconds: bigint, nanos: number): string {
  const iso = new Date(Number(seconds) * 1000).toISOString().replace(/\.\d{3}Z$/, "");
  const fraction = nanos ? "." + String(nanos).padStart(9, "0").replace(/0+$/, "") : "";
  return `${iso}${fraction}Z`;
}
