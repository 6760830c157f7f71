/**
 * Signed gateway session ids. The id handed to clients is an HS256 JWT whose `sid` claim names the
 * session, so a replica can reject forged ids without a store lookup and two replicas sharing the key
 * accept each other's ids.
 *
 * Replicas on one store share the key through it ({@link SessionSigner.shared}). The store can lose
 * the key (Redis restarted without persistence, FLUSHALL, eviction) while replicas run, and a
 * replica started then makes a new one; so a shared signer never trusts its copy for long:
 *
 * - before it issues an id it reads the store's key, putting its own back if the store has none
 *   (atomically, first writer wins), and signs with what the store holds, so every new id is
 *   signed with the one key all replicas read from the store;
 * - an id that fails to verify makes it read the store's key again (at most once per `recheckMs`,
 *   so forged ids cannot turn into a flood of store reads) and retry with it.
 *
 * A replica that changes key keeps the last few for verifying, so sessions signed before the
 * change stay valid wherever they were valid. When the store cannot be read, issuing fails with the
 * store's error (the request fails clearly) instead of signing with a key others may not hold.
 *
 * @module
 */
import { jwtVerify, SignJWT } from "jose";
import { SessionError } from "./errors.ts";

const ISSUER = "kubectl-mcp-sim";

/** Where replicas keep the key they share: a `SessionStore` with `signingKey` (Redis). */
export interface SigningKeySource {
  /**
   * The key the store holds. When it holds none it first stores `prefer` (or, without one, a fresh
   * random key), atomically, so replicas that race converge on the first one written.
   */
  signingKey?(prefer?: string): Promise<string>;
}

/** Options of {@link SessionSigner.shared}. */
export interface SharedSignerOptions {
  /** Least time between two store reads prompted by ids that fail to verify, in ms; default 1000. */
  recheckMs?: number;
}

/** How many earlier keys a signer keeps for verifying after the shared key changed. */
const KEPT_KEYS = 4;

const encodeKey = (key: string | Uint8Array) => typeof key === "string" ? new TextEncoder().encode(key) : key;

/** Issues and verifies signed session ids. */
export class SessionSigner {
  /** The key ids are signed with, then earlier ones (newest first) still accepted. */
  #keys: Uint8Array[];
  #source?: SigningKeySource;
  /** The current key as the store holds it. */
  #current?: string;
  #recheckMs = 1000;
  #lastRecheck = -Infinity;
  #reading?: Promise<void>;

  /** `key` is the HMAC secret; a random one is generated when omitted (single replica). */
  constructor(key?: string | Uint8Array) {
    const bytes = key === undefined ? crypto.getRandomValues(new Uint8Array(32)) : encodeKey(key);
    if (bytes.length < 16) throw new SessionError("The session signing key must be at least 16 bytes.");
    this.#keys = [bytes];
  }

  /**
   * A signer for one of several replicas sharing `source`'s key, kept in step with it as the module
   * doc describes. Throws the store's error when it cannot be read, and `SessionError` when
   * `source` has no shared key.
   */
  static async shared(source: SigningKeySource, opts: SharedSignerOptions = {}): Promise<SessionSigner> {
    if (!source.signingKey) throw new SessionError("The session store keeps no shared signing key.");
    const key = await source.signingKey();
    const signer = new SessionSigner(key);
    signer.#source = source;
    signer.#current = key;
    signer.#recheckMs = opts.recheckMs ?? 1000;
    return signer;
  }

  /** Reads the store's key (concurrent callers share one read) and adopts it when it changed. */
  #read(): Promise<void> {
    this.#reading ??= (async () => {
      try {
        const key = await this.#source!.signingKey!(this.#current);
        if (key === this.#current) return;
        const bytes = encodeKey(key);
        if (bytes.length < 16) {
          throw new SessionError("The session store holds a signing key shorter than 16 bytes.");
        }
        this.#current = key;
        this.#keys = [bytes, ...this.#keys].slice(0, KEPT_KEYS + 1);
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  /** A new signed session id. */
  async issue(): Promise<string> {
    if (this.#source) await this.#read();
    return await new SignJWT({ sid: crypto.randomUUID() })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(ISSUER)
      .setIssuedAt()
      .sign(this.#keys[0]);
  }

  /** The `sid` of `id` when one of `keys` signed it, else the error of the last. */
  async #check(id: string, keys: Uint8Array[]): Promise<{ sid: string } | { error: unknown }> {
    let error: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(id, key, { issuer: ISSUER, algorithms: ["HS256"] });
        if (typeof payload.sid !== "string") throw new Error("no sid claim");
        return { sid: payload.sid };
      } catch (e) {
        error = e;
      }
    }
    return { error };
  }

  /**
   * Throws `SessionError` unless `id` was issued with this signer's key (or, for a shared signer,
   * the store's current key or one of the last few); returns its `sid`.
   */
  async verify(id: string): Promise<string> {
    let checked = await this.#check(id, this.#keys);
    if ("error" in checked && this.#source && performance.now() - this.#lastRecheck >= this.#recheckMs) {
      // Another replica may sign with a key this one has not seen yet.
      this.#lastRecheck = performance.now();
      const before = this.#keys[0];
      await this.#read();
      if (this.#keys[0] !== before) checked = await this.#check(id, [this.#keys[0]]);
    }
    if ("sid" in checked) return checked.sid;
    throw new SessionError("The session id is not one this gateway issued.", { cause: checked.error });
  }
}
