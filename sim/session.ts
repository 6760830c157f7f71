/**
 * Signed gateway session ids. The id handed to clients is an HS256 JWT whose `sid` claim names the
 * session, so a replica can reject forged ids without a store lookup and two replicas sharing the key
 * accept each other's ids.
 *
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import { SessionError } from "./errors.ts";

const ISSUER = "kubectl-mcp-sim";

/** Issues and verifies signed session ids. */
export class SessionSigner {
  #key: Uint8Array;

  /** `key` is the HMAC secret; a random one is generated when omitted (single replica). */
  constructor(key?: string | Uint8Array) {
    if (key === undefined) this.#key = crypto.getRandomValues(new Uint8Array(32));
    else this.#key = typeof key === "string" ? new TextEncoder().encode(key) : key;
    if (this.#key.length < 16) throw new SessionError("The session signing key must be at least 16 bytes.");
  }

  /** A new signed session id. */
  async issue(): Promise<string> {
    return await new SignJWT({ sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .sign(this.#key);
  }

  /** Throws `SessionError` unless `id` was issued with this key; returns its `sid`. */
  async verify(id: string): Promise<string> {
    try {
      const { payload } = await jwtVerify(id, this.#key, { issuer: ISSUER, algorithms: ["HS256"] });
      if (typeof payload.sid !== "string") throw new Error("no sid claim");
      return payload.sid;
    } catch (cause) {
      throw new SessionError("The session id is not one this gateway issued.", { cause });
    }
  }
}
