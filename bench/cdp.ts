/**
 * A minimal Chrome DevTools Protocol client for a bench process started with `--inspect`: commands
 * and their answers, and events (heap snapshot chunks).
 *
 * @module
 */

/** A CDP session over the inspector's WebSocket at `wsUrl`; `on` receives events. */
export async function cdp(wsUrl: string) {
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (v: unknown) => void>();
  const listeners = new Map<string, (params: Record<string, unknown>) => void>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.id && pending.has(msg.id)) {
      pending.get(msg.id)!(msg.result ?? msg.error);
      pending.delete(msg.id);
    } else if (msg.method) listeners.get(msg.method)?.(msg.params);
  };
  return {
    send: (method: string, params: Record<string, unknown> = {}) =>
      new Promise<unknown>((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    on: (method: string, fn: (params: Record<string, unknown>) => void) => listeners.set(method, fn),
    close: () => ws.close(),
  };
}
/** A CDP session (see {@linkcode cdp}). */
export type Cdp = Awaited<ReturnType<typeof cdp>>;
