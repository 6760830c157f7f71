/**
 * The API client against hostile API servers on loopback: one that answers the list, then opens
 * each watch (status and headers) and never sends a byte, as a connection that died without closing
 * looks (the watch must notice and reconnect rather than wait forever, and Ctrl-C, the client's
 * signal, ends it at once); one that answers a list with more items in one page than asked for.
 */

import { assert, assertEquals } from "./helpers/assert.ts";
import { KubeClient, type ResourceInfo } from "../src/kube/client.ts";
import { listAndWatch } from "../src/kube/watch.ts";
import type { RestConfig } from "../src/kube/config.ts";

const CONFIG_MAPS: ResourceInfo = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  singular: "configmap",
  namespaced: true,
  verbs: [],
  shortNames: [],
};

function restConfig(server: string): RestConfig {
  return {
    server,
    insecureSkipTlsVerify: false,
    auth: { token: "t" },
    namespace: "default",
    namespaceExplicit: false,
    contextName: "hostile",
    clusterName: "hostile",
    userName: "u",
    timeoutMs: 5000,
  };
}

Deno.test("a watch that goes silent reconnects after idleMs, and the client's signal ends it", async () => {
  let watches = 0;
  const streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
    const url = new URL(request.url);
    if (url.searchParams.get("watch") !== "1") {
      return Response.json({ kind: "ConfigMapList", metadata: { resourceVersion: "5" }, items: [] });
    }
    watches++;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => void streams.add(controller),
      cancel: () => {},
    });
    return new Response(body, { headers: { "content-type": "application/json" } });
  });
  const interrupt = new AbortController();
  const client = new KubeClient(restConfig(`http://127.0.0.1:${server.addr.port}`), {
    signal: interrupt.signal,
  });
  const reasons: string[] = [];
  const watching = (async () => {
    for await (
      const _ of listAndWatch(client, CONFIG_MAPS, { idleMs: 200, onReconnect: (r) => reasons.push(r) })
    ) {
      // No events: the server never sends one.
    }
  })();
  try {
    const deadline = Date.now() + 10_000;
    while (watches < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert(watches >= 3, `only ${watches} watch requests in 10 s`);
    assert(
      reasons.every((reason) => reason === "no data from the server for 0.2s; reconnecting"),
      reasons.join(),
    );
    const started = performance.now();
    interrupt.abort(new Error("interrupted"));
    await watching;
    assert(performance.now() - started < 1000, "the watch outlived its client's signal");
  } finally {
    // Whatever failed, end the responses so the server can shut down.
    interrupt.abort(new Error("test over"));
    client.close();
    for (const controller of streams) {
      try {
        controller.close();
      } catch {
        // Already cancelled by the client.
      }
    }
  }
});

Deno.test("a list of 200,000 items in one page is read (no spread into push)", async () => {
  const items = Array.from({ length: 200_000 }, (_, i) => ({ metadata: { name: `c${i}` } }));
  const body = JSON.stringify({ kind: "ConfigMapList", metadata: { resourceVersion: "5" }, items });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response(body, { headers: { "content-type": "application/json" } }),
  );
  using client = new KubeClient(restConfig(`http://127.0.0.1:${server.addr.port}`));
  const list = await client.list(CONFIG_MAPS);
  assertEquals(list.items.length, 200_000);
  assertEquals(list.items[199_999].kind, "ConfigMap");
});
