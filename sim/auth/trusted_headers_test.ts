/**
 * The broker side of the wristband: verification as golang-jwt does it for the broker, and the
 * step-1 list filter, with wristbands minted by jose (as Authorino signs them: ES256).
 */
import { exportSPKI, generateKeyPair, SignJWT } from "jose";
import { assert, assertEquals } from "../../test/helpers/assert.ts";
import {
  authorizedHeaderValue,
  filterByWristband,
  readWristband,
  wristbandFilter,
  type WristbandRead,
} from "./trusted_headers.ts";

/** What jose signs with (its key type, which Deno's and Node's CryptoKey typings both satisfy). */
type SigningKey = Parameters<SignJWT["sign"]>[0];

const es = await generateKeyPair("ES256", { extractable: true });
const PEM = await exportSPKI(es.publicKey);
const other = await generateKeyPair("ES256", { extractable: true });
const rsa = await generateKeyPair("RS256", { extractable: true });

const SERVERS = [
  { name: "mcp-test/server1", prefix: "s1_" },
  { name: "mcp-test/server2", prefix: "s2_" },
  { name: "mcp-test/plain", prefix: "" },
];
const TOOLS = ["s1_greet", "s1_time", "s1_headers", "s2_add", "s2_echo", "ping", "discover_tools"]
  .map((name) => ({ name }));

const b64 = (v: unknown) =>
  btoa(JSON.stringify(v)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");

/** A wristband as Authorino signs one: ES256, `allowed-capabilities` a JSON string. */
function mint(
  capabilities: unknown,
  opts: { key?: SigningKey; alg?: string; exp?: number | string; nbf?: number; raw?: boolean } = {},
): Promise<string> {
  const claim = opts.raw ? capabilities : JSON.stringify(capabilities);
  const jwt = new SignJWT({ "allowed-capabilities": claim, sub: "alice" })
    .setProtectedHeader({ alg: opts.alg ?? "ES256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? "5m");
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(opts.key ?? es.privateKey);
}

const names = (items: { name: string }[]) => items.map((i) => i.name);

async function listed(header: string | undefined, opts: { enforce?: boolean; pem?: string } = {}) {
  const filter = await wristbandFilter({
    clientHeaders: header === undefined ? {} : { "x-mcp-authorized": header },
    publicKeyPem: "pem" in opts ? opts.pem : PEM,
    enforce: opts.enforce,
    servers: SERVERS,
  });
  return names(filter(TOOLS, "tools"));
}

Deno.test("a valid wristband keeps the tools it names, mapped to each server's prefix, in list order", async () => {
  const token = await mint({
    tools: { "mcp-test/server1": ["time", "greet"], "mcp-test/plain": ["ping"], "mcp-test/gone": ["x"] },
  });
  assertEquals(await listed(token), ["s1_greet", "s1_time", "ping"]);
  // Names are the servers' own: a prefixed name in the claim matches nothing.
  assertEquals(await listed(await mint({ tools: { "mcp-test/server1": ["s1_greet"] } })), []);
});

Deno.test("two identities' wristbands list different tools", async () => {
  const alice = await mint({ tools: { "mcp-test/server1": ["greet"] } });
  const bob = await mint({ tools: { "mcp-test/server2": ["add", "echo"] } });
  assertEquals(await listed(alice), ["s1_greet"]);
  assertEquals(await listed(bob), ["s2_add", "s2_echo"]);
});

Deno.test("absent header: everything, or nothing when capability filtering is enforced", async () => {
  assertEquals(await listed(undefined), names(TOOLS));
  assertEquals(await listed(undefined, { enforce: true }), []);
  // Without any key configured (the extension has no trustedHeadersKey), an absent header still lists all.
  assertEquals(await listed(undefined, { pem: undefined }), names(TOOLS));
});

Deno.test("a bad wristband lists nothing, never more", async () => {
  const good = await mint({ tools: { "mcp-test/server1": ["greet"] } });
  const [h, p, s] = good.split(".");
  const now = Math.floor(Date.now() / 1000);
  const cases: Record<string, string> = {
    "forged payload": `${h}.${
      b64({ "allowed-capabilities": '{"tools":{"mcp-test/server2":["add"]}}' })
    }.${s}`,
    "another key": await mint({ tools: { "mcp-test/server1": ["greet"] } }, { key: other.privateKey }),
    "RS256 (the broker takes ES256 only)": await mint({ tools: { "mcp-test/server1": ["greet"] } }, {
      key: rsa.privateKey,
      alg: "RS256",
    }),
    "alg none": `${b64({ alg: "none", typ: "JWT" })}.${p}.`,
    "alg none, signature kept": `${b64({ alg: "none" })}.${p}.${s}`,
    "expired": await mint({ tools: { "mcp-test/server1": ["greet"] } }, { exp: now - 1 }),
    "expires this second": await mint({ tools: { "mcp-test/server1": ["greet"] } }, { exp: now }),
    "not yet valid": await mint({ tools: { "mcp-test/server1": ["greet"] } }, { nbf: now + 60 }),
    "empty value": "",
    "two segments": `${h}.${p}`,
    "four segments": `${good}.${s}`,
    "padded base64": `${h}.${p}=.${s}`,
    "claim not a string": await mint({ tools: { "mcp-test/server1": ["greet"] } }, { raw: true }),
    "claim not JSON": await mint("{tools:", { raw: true }),
    "claim of another shape": await mint({ tools: ["greet"] }),
    "a name that is not a string": await mint({ tools: { "mcp-test/server1": ["greet", 1] } }),
    "tools null": await mint({ tools: null }),
    "no claim": await new SignJWT({ sub: "alice" }).setProtectedHeader({ alg: "ES256" }).sign(es.privateKey),
    "exp not a number": await new SignJWT(
      { "allowed-capabilities": "{}", exp: "soon" } as Record<string, unknown>,
    )
      .setProtectedHeader({ alg: "ES256" }).sign(es.privateKey),
  };
  for (const [what, token] of Object.entries(cases)) {
    assertEquals(await listed(token), [], what);
    assertEquals(await listed(token, { enforce: true }), [], `${what}, enforced`);
  }
  // The broker takes exactly one value (the router in front of it hands it the last, see below).
  assertEquals((await readWristband(`${good}, ${good}`, { publicKeyPem: PEM })).state, "invalid");
  // The good one lists, so the cases above fail for their defect alone.
  assertEquals(await listed(good), ["s1_greet"]);
  // No key configured, or one that is not ECDSA P-256: a present wristband lists nothing.
  assertEquals(await listed(good, { pem: undefined }), []);
  assertEquals(await listed(good, { pem: await exportSPKI(rsa.publicKey) }), []);
  assertEquals(await listed(good, { pem: "not a key" }), []);
});

Deno.test("exp and nbf as golang-jwt: exp 0 is absent, fractions truncate, valid while now < exp", async () => {
  const caps = JSON.stringify({ tools: { "mcp-test/server1": ["greet"] } });
  const sign = (claims: Record<string, unknown>) =>
    new SignJWT({ "allowed-capabilities": caps, ...claims }).setProtectedHeader({ alg: "ES256" }).sign(
      es.privateKey,
    );
  const at = 1_700_000_000;
  const read = async (claims: Record<string, unknown>, nowSeconds: number) =>
    (await readWristband(await sign(claims), { publicKeyPem: PEM, now: nowSeconds * 1000 })).state;
  assertEquals(await read({ exp: 0 }, at), "valid");
  assertEquals(await read({}, at), "valid");
  assertEquals(await read({ exp: at + 0.9 }, at), "invalid");
  assertEquals(await read({ exp: at + 1 }, at + 0.999), "valid");
  assertEquals(await read({ exp: at + 1 }, at + 1), "invalid");
  assertEquals(await read({ nbf: at }, at), "valid");
  assertEquals(await read({ nbf: at + 1 }, at + 0.5), "invalid");
  assertEquals(await read({ exp: null }, at), "invalid");
  // iat, iss and aud are not checked by the broker.
  assertEquals(await read({ iat: at + 3600, iss: "x", aud: "y" }, at), "valid");
});

Deno.test("a wristband without the kind's entry leaves that list whole unless enforced", async () => {
  const promptsOnly = await mint({ prompts: { "mcp-test/server1": ["hello"] } });
  assertEquals(await listed(promptsOnly), names(TOOLS));
  assertEquals(await listed(promptsOnly, { enforce: true }), []);
  // A JSON null claim decodes to no map at all (Go's nil): the same.
  assertEquals(await listed(await mint(null)), names(TOOLS));
});

Deno.test("prompts filter by the prompts entry", async () => {
  const prompts = [{ name: "s1_hello" }, { name: "s1_bye" }, { name: "s2_hello" }];
  const read: WristbandRead = await readWristband(
    await mint({ tools: {}, prompts: { "mcp-test/server1": ["bye"] } }),
    { publicKeyPem: PEM },
  );
  assert(read.state === "valid");
  const prefixOf = (s: string) => SERVERS.find((x) => x.name === s)?.prefix;
  assertEquals(names(filterByWristband(prompts, "prompts", read, { prefixOf })), ["s1_bye"]);
  assertEquals(names(filterByWristband(TOOLS, "tools", read, { prefixOf })), []);
});

Deno.test("the policy's success header overrides the client's; otherwise the client's passes, the last of several", () => {
  assertEquals(
    authorizedHeaderValue({ "X-MCP-Authorized": "policy" }, { "x-mcp-authorized": "client" }),
    "policy",
  );
  assertEquals(authorizedHeaderValue({ other: "x" }, { "x-mcp-authorized": "client" }), "client");
  assertEquals(authorizedHeaderValue(undefined, new Headers({ "X-Mcp-Authorized": "client" })), "client");
  // Several client values: the router re-injects the last one.
  assertEquals(authorizedHeaderValue(undefined, { "x-mcp-authorized": ["a", "b"] }), "b");
  assertEquals(authorizedHeaderValue(undefined, { "x-mcp-authorized": "a, b" }), "b");
  assertEquals(authorizedHeaderValue(undefined, { "x-mcp-authorized": "" }), "");
  assertEquals(authorizedHeaderValue(undefined, {}), undefined);
});

Deno.test("keeps: all or none exactly when the filter keeps every item or none of any list, else some", async () => {
  const cases: Array<[string | undefined, boolean, "all" | "none" | "some"]> = [
    [undefined, false, "all"],
    [undefined, true, "none"],
    ["not-a-jwt", false, "none"],
    [await mint({ prompts: {} }), false, "all"],
    [await mint({ prompts: {} }), true, "none"],
    [await mint({ tools: { "mcp-test/server1": ["greet"] } }), false, "some"],
  ];
  for (const [header, enforce, keeps] of cases) {
    const filter = await wristbandFilter({
      clientHeaders: header === undefined ? {} : { "x-mcp-authorized": header },
      publicKeyPem: PEM,
      enforce,
      servers: SERVERS,
    });
    const what = `${header?.slice(0, 12)}, enforce ${enforce}`;
    assertEquals(filter.keeps("tools"), keeps, what);
    const kept = names(filter(TOOLS, "tools"));
    if (keeps === "all") assertEquals(kept, names(TOOLS), what);
    if (keeps === "none") assertEquals(kept, [], what);
    if (keeps === "some") assertEquals(kept, ["s1_greet"], what);
  }
});
