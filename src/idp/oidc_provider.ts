/**
 * npm `oidc-provider` as this project runs it in process: the class, loaded once without its
 * warning about Deno, and the in-memory storage it needs. Shared by the dev identity provider and
 * the tests' OIDC fixture.
 *
 * @module
 */

/**
 * oidc-provider, imported once. It warns on import that Deno is not Node.js; every API used here
 * works in Deno, so that one line is kept out of the output.
 */
// deno-lint-ignore no-explicit-any
let providerClass: Promise<any> | undefined;

/** The `Provider` class of npm `oidc-provider`. */
// deno-lint-ignore no-explicit-any
export function loadOidcProvider(): Promise<any> {
  providerClass ??= (async () => {
    const warn = console.warn;
    console.warn = (...args: unknown[]) => {
      if (!String(args[0]).includes("Unsupported runtime")) warn(...args);
    };
    try {
      return (await import("oidc-provider")).default;
    } finally {
      console.warn = warn;
    }
  })();
  return providerClass;
}

/**
 * oidc-provider's storage contract in memory, one store per call (its own quick-start adapter warns
 * that it is not for production, on every start).
 */
export function memoryAdapter(): new (model: string) => unknown {
  const store = new Map<string, Record<string, unknown>>();
  const all = (model: string) => [...store].filter(([k]) => k.startsWith(`${model}:`)).map(([, v]) => v);
  return class MemoryAdapter {
    constructor(readonly model: string) {}
    upsert(id: string, payload: Record<string, unknown>): Promise<void> {
      store.set(`${this.model}:${id}`, payload);
      return Promise.resolve();
    }
    find(id: string): Promise<Record<string, unknown> | undefined> {
      return Promise.resolve(store.get(`${this.model}:${id}`));
    }
    findByUid(uid: string): Promise<Record<string, unknown> | undefined> {
      return Promise.resolve(all(this.model).find((v) => v.uid === uid));
    }
    findByUserCode(code: string): Promise<Record<string, unknown> | undefined> {
      return Promise.resolve(all(this.model).find((v) => v.userCode === code));
    }
    consume(id: string): Promise<void> {
      const v = store.get(`${this.model}:${id}`);
      if (v) v.consumed = Math.floor(Date.now() / 1000);
      return Promise.resolve();
    }
    destroy(id: string): Promise<void> {
      store.delete(`${this.model}:${id}`);
      return Promise.resolve();
    }
    revokeByGrantId(grantId: string): Promise<void> {
      for (const [k, v] of store) if (v.grantId === grantId) store.delete(k);
      return Promise.resolve();
    }
  };
}

/**
 * Answers a consent interaction by granting everything the client asked for (scopes, claims, the
 * resource indicators' scopes), as a first-party application is granted it, and finishes the
 * interaction (oidc-provider redirects back to the authorization endpoint).
 */
export async function grantWhatWasAsked(
  // deno-lint-ignore no-explicit-any
  provider: any,
  req: unknown,
  res: unknown,
  // deno-lint-ignore no-explicit-any
  details: any,
): Promise<void> {
  const { prompt, params, session } = details;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  const missing = prompt.details ?? {};
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(" "));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, (scopes as string[]).join(" "));
  }
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, {
    mergeWithLastSubmission: true,
  });
}
