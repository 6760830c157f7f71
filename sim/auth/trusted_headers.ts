/**
 * The broker side of the wristband: the `x-mcp-authorized` header Authorino signs on success, which
 * upstream's broker (v0.9.0, `filtered_tools_handler.go`, `filtered_prompts_handler.go`) verifies
 * with the public key of the MCPGatewayExtension's `trustedHeadersKey` Secret (key `key`, its
 * `TRUSTED_HEADER_PUBLIC_KEY`) and uses to filter `tools/list` and `prompts/list`:
 *
 * 1. capabilities: the claim `allowed-capabilities`, a JSON string
 *    `{"tools": {"<ns>/<registration>": ["<tool>", ...]}, "prompts": {...}}`, each server name mapped
 *    to its registration's prefix, keeps the prefixed names it lists;
 * 2. the virtual server (in the handlers, as before).
 *
 * As the broker, a header that is present but not a valid wristband (two values, empty, forged,
 * expired, another algorithm than ES256, a key that is not ECDSA, a claim that is missing or not a
 * string, or JSON of another shape) empties the list; an absent header leaves it whole unless
 * capability filtering is enforced (`--enforce-capability-filtering`). A wristband without the
 * kind's key (`tools` or `prompts`) leaves that list whole unless enforced. Calls are not filtered
 * here: the broker and router let a `tools/call` outside the capabilities through (an AuthPolicy
 * refuses it by `x-mcp-toolname`); only the gateway's own meta-tools (`discover_tools`,
 * `select_tools`, tags) see the filtered set.
 *
 * Verification follows golang-jwt v5.3.1 as the broker calls it (`jwt.Parse` with
 * `WithValidMethods([ES256])` and no other option): three base64url segments without padding, a
 * JSON object header whose `alg` is `ES256`, a 64-byte r||s signature over P-256 and SHA-256, then
 * `exp` (valid while now < exp truncated to the second; 0 counts as absent) and `nbf`
 * (now >= nbf); a non-numeric `exp` or `nbf` is invalid; `iat`, `iss` and `aud` are not checked.
 *
 * @module
 */
import { base64UrlBytes } from "../base64.ts";

/** The header Authorino sets and the broker reads. */
export const AUTHORIZED_HEADER = "x-mcp-authorized";

/** The wristband claim holding the capabilities JSON string. */
export const ALLOWED_CAPABILITIES_CLAIM = "allowed-capabilities";

/** The lists a wristband filters, by the key of its capabilities JSON. */
export type CapabilityKind = "tools" | "prompts";

/**
 * The decoded `allowed-capabilities`: kind -> server name (`ns/name`) -> the server's own names. A
 * `null` where a map or list was (Go's nil) is kept: it allows nothing.
 */
export type Capabilities = Record<string, Record<string, string[] | null> | null> | null;

/** What one request's `x-mcp-authorized` header says. */
export type WristbandRead =
  | { state: "absent" }
  /** Present but refused; `reason` names why (never the token). */
  | { state: "invalid"; reason: string }
  | { state: "valid"; capabilities: Capabilities; claims: Record<string, unknown> };

/** Options of {@linkcode readWristband}. */
export interface ReadWristbandOptions {
  /** The PEM the extension's `trustedHeadersKey` Secret holds under `key`; absent is the broker's "". */
  publicKeyPem?: string;
  /** Now, in ms since the epoch (tests); default `Date.now()`. */
  now?: number;
}

const keys = new Map<string, Promise<CryptoKey | string>>();

/**
 * The ECDSA P-256 key of `pem`, imported once per PEM, or why it cannot be one (the broker's
 * `pem.Decode` takes the first block whatever its label, then `x509.ParsePKIXPublicKey`).
 */
function publicKey(pem: string): Promise<CryptoKey | string> {
  let key = keys.get(pem);
  if (key) return key;
  key = (async () => {
    const block = /-----BEGIN ([^-\r\n]*)-----\r?\n([\s\S]*?)-----END \1-----/.exec(pem);
    if (!block) return "the trusted headers key is not PEM";
    let der: Uint8Array;
    try {
      der = Uint8Array.from(atob(block[2].replace(/\s+/g, "")), (c) => c.charCodeAt(0));
    } catch {
      return "the trusted headers key's PEM block is not base64";
    }
    try {
      return await crypto.subtle.importKey(
        "spki",
        der as BufferSource,
        {
          name: "ECDSA",
          namedCurve: "P-256",
        },
        false,
        ["verify"],
      );
    } catch {
      return "the trusted headers key is not an ECDSA P-256 public key";
    }
  })();
  // A few keys at most live at once (one per extension and reload); forget the oldest beyond that.
  if (keys.size >= 8) keys.delete(keys.keys().next().value!);
  keys.set(pem, key);
  return key;
}

/** Go's `base64.RawURLEncoding.DecodeString`: no padding, URL alphabet; CR and LF are skipped. */
function rawUrlDecode(segment: string): Uint8Array | undefined {
  return base64UrlBytes(segment.replace(/[\r\n]/g, ""));
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** A segment decoded to a JSON object, else undefined (Go's `json.Unmarshal` into a map; null is {}). */
function jsonObject(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(new TextDecoder().decode(bytes));
    if (v === null) return {};
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** golang-jwt's NumericDate of a MapClaims key: ms truncated to the second, undefined when absent. */
function numericDate(claims: Record<string, unknown>, key: string): number | undefined | "invalid" {
  if (!(key in claims)) return undefined;
  const v = claims[key];
  if (typeof v !== "number") return "invalid";
  if (v === 0) return undefined;
  // time.Unix(sec, frac).Truncate(time.Second) rounds down from the zero time: floor, for any sign.
  return Math.floor(v) * 1000;
}

/** The capabilities JSON decoded as Go's `json.Unmarshal` into `map[string]map[string][]string`. */
function parseCapabilities(text: string): Capabilities | string {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return "its allowed-capabilities claim is not JSON";
  }
  const shape = "its allowed-capabilities claim is not a map of kinds to servers to name lists";
  if (v === null) return null;
  if (!isObject(v)) return shape;
  const out: Record<string, Record<string, string[] | null> | null> = {};
  for (const [kind, servers] of Object.entries(v)) {
    if (servers === null) {
      out[kind] = null;
      continue;
    }
    if (!isObject(servers)) return shape;
    const map: Record<string, string[] | null> = {};
    for (const [server, names] of Object.entries(servers)) {
      if (names === null) map[server] = null;
      else if (Array.isArray(names) && names.every((n) => typeof n === "string")) map[server] = names;
      else return shape;
    }
    out[kind] = map;
  }
  return out;
}

/**
 * Reads and verifies one request's `x-mcp-authorized` value as the broker does. `value` is the
 * header as the Fetch API gives it: several header lines arrive joined by ", ", which a JWT never
 * contains, so a comma means more than one value (the broker refuses anything but exactly one; in
 * the cluster the router hands it one, see {@linkcode authorizedHeaderValue}).
 */
export async function readWristband(
  value: string | null | undefined,
  options: ReadWristbandOptions = {},
): Promise<WristbandRead> {
  if (value === null || value === undefined) return { state: "absent" };
  const invalid = (reason: string): WristbandRead => ({ state: "invalid", reason });
  if (value.includes(",")) return invalid("more than one x-mcp-authorized value");
  if (value === "") return invalid("an empty x-mcp-authorized value");
  if (!options.publicKeyPem) return invalid("no trusted headers public key is configured");
  const parts = value.split(".");
  if (parts.length !== 3) return invalid("the wristband is not a JWT (three segments)");
  const [h, p, s] = parts.map(rawUrlDecode);
  if (!h) return invalid("the wristband's header is not base64url");
  const header = jsonObject(h);
  if (!header) return invalid("the wristband's header is not a JSON object");
  if (!p) return invalid("the wristband's payload is not base64url");
  const claims = jsonObject(p);
  if (!claims) return invalid("the wristband's payload is not a JSON object");
  if (typeof header.alg !== "string") return invalid("the wristband names no algorithm");
  if (!s) return invalid("the wristband's signature is not base64url");
  if (header.alg !== "ES256") return invalid(`the wristband's algorithm ${header.alg} is not ES256`);
  const key = await publicKey(options.publicKeyPem);
  if (typeof key === "string") return invalid(key);
  const signed = new TextEncoder().encode(`${parts[0]}.${parts[1]}`);
  const ok = s.length === 64 &&
    await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, key, s as BufferSource, signed);
  if (!ok) return invalid("the wristband's signature does not verify with the trusted headers key");
  const now = options.now ?? Date.now();
  const exp = numericDate(claims, "exp");
  const nbf = numericDate(claims, "nbf");
  if (exp === "invalid") return invalid("the wristband's exp is not a number");
  if (exp !== undefined && !(now < exp)) return invalid("the wristband expired");
  if (nbf === "invalid") return invalid("the wristband's nbf is not a number");
  if (nbf !== undefined && now < nbf) return invalid("the wristband is not valid yet");
  if (!(ALLOWED_CAPABILITIES_CLAIM in claims)) {
    return invalid("the wristband has no allowed-capabilities claim");
  }
  const claim = claims[ALLOWED_CAPABILITIES_CLAIM];
  if (typeof claim !== "string") return invalid("the wristband's allowed-capabilities claim is not a string");
  const capabilities = parseCapabilities(claim);
  if (typeof capabilities === "string") return invalid(`the wristband: ${capabilities}`);
  return { state: "valid", capabilities, claims };
}

/**
 * What {@linkcode filterByWristband} keeps of any list of `kind` under `read`: every item, none, or
 * "some" (it depends on the items' names). A list filtered to all or none is the same for every
 * wristband that keeps all or none, so a caller can reuse it.
 */
export function wristbandKeeps(
  kind: CapabilityKind,
  read: WristbandRead,
  enforce?: boolean,
): "all" | "none" | "some" {
  if (read.state === "absent") return enforce ? "none" : "all";
  if (read.state === "invalid") return "none";
  const caps = read.capabilities;
  if (caps === null || !(kind in caps)) return enforce ? "none" : "all";
  return "some";
}

/** Options of {@linkcode filterByWristband}. */
export interface FilterByWristbandOptions {
  /** `--enforce-capability-filtering`: no header, or no entry for the kind, lists nothing. */
  enforce?: boolean;
  /** The prefix of the server named `ns/name` in the capabilities, undefined when no such server. */
  prefixOf: (server: string) => string | undefined;
}

/**
 * Step 1 of the broker's list filter: `items` (prefixed names) kept as `read` allows for `kind`.
 * Never returns an item `items` lacks; keeps their order. Names of servers the gateway does not
 * have are skipped, as the broker skips them.
 */
export function filterByWristband<T extends { name: string }>(
  items: readonly T[],
  kind: CapabilityKind,
  read: WristbandRead,
  options: FilterByWristbandOptions,
): T[] {
  const keeps = wristbandKeeps(kind, read, options.enforce);
  if (keeps === "all") return [...items];
  if (keeps === "none" || read.state !== "valid" || read.capabilities === null) return [];
  const allowed = new Set<string>();
  for (const [server, names] of Object.entries(read.capabilities[kind] ?? {})) {
    const prefix = options.prefixOf(server);
    if (prefix === undefined) continue;
    for (const name of names ?? []) allowed.add(prefix + name);
  }
  return items.filter((item) => allowed.has(item.name));
}

/**
 * The `x-mcp-authorized` value the broker receives for one request: the policy's success header
 * when it set one (Authorino overwrites what the client sent), else the client's own header as
 * upstream's router re-injects it on requests to the broker: it strips the internal headers in the
 * header phase and sets them back from its one-value-per-name map of the request's headers
 * (`headerMapToMap`, the last entry winning), so of several client values the last one arrives.
 */
export function authorizedHeaderValue(
  granted: Record<string, string> | undefined,
  clientHeaders: Headers | Record<string, string | string[] | undefined> | undefined,
): string | undefined {
  for (const [name, value] of Object.entries(granted ?? {})) {
    if (name.toLowerCase() === AUTHORIZED_HEADER) return value;
  }
  let sent: string | string[] | undefined;
  if (clientHeaders instanceof Headers) sent = clientHeaders.get(AUTHORIZED_HEADER) ?? undefined;
  else {
    for (const [name, value] of Object.entries(clientHeaders ?? {})) {
      if (name.toLowerCase() === AUTHORIZED_HEADER && value !== undefined) sent = value;
    }
  }
  // The Fetch API joins repeated header lines with ", " (a JWT has no comma); the router keeps the last.
  const last = Array.isArray(sent) ? sent.at(-1) : sent?.split(",").at(-1);
  return last?.trim();
}

/** What {@linkcode wristbandFilter} needs about one request and the gateway. */
export interface WristbandFilterInput {
  /** The success headers of the policy that allowed the request (`attributes.granted.requestHeaders`). */
  granted?: Record<string, string>;
  /** The headers the client sent with the request. */
  clientHeaders?: Headers | Record<string, string | string[] | undefined>;
  /** The extension's trusted headers public key (PEM). */
  publicKeyPem?: string;
  /** `--enforce-capability-filtering`. */
  enforce?: boolean;
  /** The configured servers: capability server names map to their prefixes. */
  servers: readonly { name: string; prefix: string }[];
  /** Now, in ms since the epoch (tests). */
  now?: number;
}

/** A list filter bound to one request's wristband. */
export type WristbandFilter =
  & (<T extends { name: string }>(items: readonly T[], kind: CapabilityKind) => T[])
  & {
    /** What the filter keeps of any list of `kind` (see {@linkcode wristbandKeeps}). */
    readonly keeps: (kind: CapabilityKind) => "all" | "none" | "some";
  };

/**
 * Reads the request's wristband once and returns the broker's step-1 filter for its lists
 * (`tools/list`, `prompts/list`, and the tools the meta-tools see).
 */
export async function wristbandFilter(input: WristbandFilterInput): Promise<WristbandFilter> {
  const read = await readWristband(authorizedHeaderValue(input.granted, input.clientHeaders), {
    publicKeyPem: input.publicKeyPem,
    now: input.now,
  });
  const prefixes = new Map(input.servers.map((s) => [s.name, s.prefix]));
  const options = { enforce: input.enforce, prefixOf: (server: string) => prefixes.get(server) };
  const filter = <T extends { name: string }>(items: readonly T[], kind: CapabilityKind) =>
    filterByWristband(items, kind, read, options);
  return Object.assign(filter, {
    keeps: (kind: CapabilityKind) => wristbandKeeps(kind, read, input.enforce),
  });
}
