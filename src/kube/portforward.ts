/**
 * Port-forwarding to a Pod through the API server, over WebSocket (`v4.channel.k8s.io`, the
 * protocol the kubelet's streaming server speaks and the API server proxies), plus the Service to
 * Pod resolution `kubectl port-forward svc/NAME` does.
 *
 * Each local TCP connection gets its own WebSocket. Frames carry a channel byte: 0 is data, 1 is
 * errors; the first frame of each channel starts with the port number (two bytes, little-endian).
 *
 * @module
 */

import { KubeApiError } from "../errors.ts";
import type { KubeClient, KubeObject, ResourceInfo } from "./client.ts";

/** Options of {@link openPortForward}. */
export interface PortForwardOptions {
  /** The Pod's namespace (default: the client's). */
  namespace?: string;
  /** The Pod. */
  pod: string;
  /** The Pod's port. */
  port: number;
  /** The local port on 127.0.0.1 (default: any free port). */
  localPort?: number;
  /** Called with errors of single connections (the forward itself keeps running). */
  onError?: (error: Error) => void;
  /**
   * The caller has just read the Pod and seen it Running (as {@link resolveServiceToPod} does), so
   * it is not read again. Default false.
   */
  podRunning?: boolean;
}

/** A running port-forward. */
export interface PortForward {
  /** The local port connections are accepted on. */
  localPort: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
  /** Closes when used with `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** Pods (core v1). */
export const POD: ResourceInfo = {
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  singular: "pod",
  namespaced: true,
  verbs: [],
  shortNames: [],
};

/** Services (core v1). */
export const SERVICE: ResourceInfo = { ...POD, kind: "Service", plural: "services", singular: "service" };

/** EndpointSlices (`discovery.k8s.io/v1`). */
export const ENDPOINT_SLICE: ResourceInfo = {
  ...POD,
  group: "discovery.k8s.io",
  kind: "EndpointSlice",
  plural: "endpointslices",
  singular: "endpointslice",
};

interface PodObject extends KubeObject {
  spec?: { containers?: { name: string; ports?: { name?: string; containerPort: number }[] }[] };
  status?: { phase?: string; conditions?: { type: string; status: string }[] };
}

/**
 * Listens on 127.0.0.1 and forwards every connection to `port` of the Pod through the API server.
 * The Pod must exist and be Running, as `kubectl port-forward` requires.
 */
export async function openPortForward(client: KubeClient, options: PortForwardOptions): Promise<PortForward> {
  const namespace = options.namespace ?? client.namespace;
  if (!options.podRunning) {
    const phase = (await client.get<PodObject>(POD, options.pod, { namespace })).status?.phase;
    if (phase !== "Running") {
      throw new KubeApiError(
        `unable to forward port because pod is not running. Current status=${phase ?? "Unknown"}`,
        { hint: `Wait for pod "${options.pod}" in namespace "${namespace}" to be Running.` },
      );
    }
  }
  const listener = Deno.listen({ hostname: "127.0.0.1", port: options.localPort ?? 0 });
  const localPort = (listener.addr as Deno.NetAddr).port;
  const open = new Set<{ close(): void }>();
  let closed = false;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods/${
    encodeURIComponent(options.pod)
  }/portforward`;

  const accepting = (async () => {
    for await (const conn of listener) {
      const handle = forwardConnection(client, path, options.port, conn, options.onError);
      open.add(handle);
      handle.done.finally(() => open.delete(handle));
    }
  })().catch((error) => {
    if (!closed) options.onError?.(error as Error);
  });

  const close = async () => {
    if (closed) return;
    closed = true;
    listener.close();
    for (const handle of open) handle.close();
    await accepting;
  };
  return { localPort, close, [Symbol.asyncDispose]: close };
}

function forwardConnection(
  client: KubeClient,
  path: string,
  port: number,
  conn: Deno.Conn,
  onError?: (error: Error) => void,
): { close(): void; done: Promise<void> } {
  let socket: WebSocket | undefined;
  let finished = false;
  const close = () => {
    if (finished) return;
    finished = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
  };
  // Ctrl-C (the client's signal) ends the connection wherever it is: handshake or forwarding.
  client.signal?.addEventListener("abort", close, { once: true });
  const done = (async () => {
    const { headers, client: httpClient } = await client.connection();
    if (finished) return;
    const url = client.url(path, { ports: port });
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(
      url,
      { protocols: ["v4.channel.k8s.io"], headers, client: httpClient } as WebSocketOptions,
    );
    socket.binaryType = "arraybuffer";
    const ws = socket;
    const portPending = [true, true];
    let errorText = "";
    const writer = conn.writable.getWriter();
    let writes = Promise.resolve();
    // The handshake is a request like any other: bounded by --request-timeout, ended by Ctrl-C.
    const timeoutMs = client.config.timeoutMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        ws.onopen = () => resolve();
        ws.onerror = (event) =>
          reject(
            new KubeApiError(
              `port-forward to ${path} failed: ${(event as ErrorEvent).message ?? "WebSocket error"}`,
            ),
          );
        if (timeoutMs > 0) {
          timer = setTimeout(() => {
            reject(
              new KubeApiError(
                `port-forward to ${path} on ${client.config.server} did not open within ${timeoutMs / 1000}s`,
                {
                  hint:
                    "Raise --request-timeout, or check that the API server and the Pod's node are healthy.",
                },
              ),
            );
          }, timeoutMs);
        }
      });
    } finally {
      clearTimeout(timer);
    }
    const ended = new Promise<void>((resolve) => {
      ws.onclose = () => resolve();
      ws.onerror = () => resolve();
    });
    ws.onmessage = (event) => {
      let data = new Uint8Array(event.data as ArrayBuffer);
      if (data.length === 0) return;
      const channel = data[0];
      data = data.subarray(1);
      if (channel > 1) return;
      if (portPending[channel]) {
        // The first frame of a channel carries only the port number.
        portPending[channel] = false;
        data = data.subarray(2);
      }
      if (data.length === 0) return;
      if (channel === 0) {
        const chunk = data.slice();
        writes = writes.then(() => writer.write(chunk)).catch(() => close());
      } else {
        errorText += new TextDecoder().decode(data);
      }
    };
    const pump = (async () => {
      for await (const chunk of conn.readable) {
        if (ws.readyState !== WebSocket.OPEN) break;
        const frame = new Uint8Array(chunk.length + 1);
        frame[0] = 0;
        frame.set(chunk, 1);
        ws.send(frame);
      }
    })().catch(() => {});
    await Promise.race([ended, pump]);
    await writes;
    if (errorText) onError?.(new KubeApiError(`port-forward to port ${port}: ${errorText.trim()}`));
  })().catch((error) => {
    if (!finished) onError?.(error as Error);
  }).finally(() => {
    client.signal?.removeEventListener("abort", close);
    close();
  });
  return { close, done };
}

/** Where a Service port leads: a ready Pod and the Pod's port number. */
export interface ServiceTarget {
  /** The Pod's name. */
  pod: string;
  /** The port on the Pod (the Service's targetPort, names resolved). */
  port: number;
  /** The Pod's UID: a Pod of the same name made again is another Pod. */
  uid?: string;
}

interface ServiceObject extends KubeObject {
  spec?: {
    selector?: Record<string, string>;
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
  };
}

interface EndpointSliceObject extends KubeObject {
  endpoints?: { conditions?: { ready?: boolean }; targetRef?: { kind?: string; name?: string } }[];
}

/**
 * Resolves a Service port to a ready Pod and its port, as `kubectl port-forward svc/NAME PORT`
 * does: `port` is the Service's port number or name; a named targetPort is looked up in the Pod's
 * container ports. Ready Pods come from EndpointSlices, or from the Service selector when no slice
 * lists one (clusters without the endpoint controller).
 */
export async function resolveServiceToPod(
  client: KubeClient,
  namespace: string,
  service: string,
  port: number | string,
): Promise<ServiceTarget> {
  const svc = await client.get<ServiceObject>(SERVICE, service, { namespace });
  const ports = svc.spec?.ports ?? [];
  const servicePort = ports.find((p) => typeof port === "number" ? p.port === port : p.name === port) ??
    (ports.length === 1 && port === undefined ? ports[0] : undefined);
  if (!servicePort) {
    throw new KubeApiError(`Service ${namespace}/${service} does not have a service port ${port}`, {
      hint: `Its ports: ${
        ports.map((p) => p.name ? `${p.name}:${p.port}` : String(p.port)).join(", ") || "none"
      }.`,
    });
  }
  const selector = svc.spec?.selector ?? {};
  if (Object.keys(selector).length === 0) {
    throw new KubeApiError(`Service ${namespace}/${service} has no selector, so no Pod to forward to`);
  }
  const pod = await readyPod(client, namespace, service, selector);
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === "number" || /^\d+$/.test(target)) {
    return { pod: pod.metadata!.name!, port: Number(target), uid: pod.metadata?.uid };
  }
  for (const container of pod.spec?.containers ?? []) {
    const named = container.ports?.find((p) => p.name === target);
    if (named) return { pod: pod.metadata!.name!, port: named.containerPort, uid: pod.metadata?.uid };
  }
  throw new KubeApiError(
    `Pod ${namespace}/${pod.metadata?.name} has no container port named "${target}" (targetPort of Service ${service})`,
  );
}

async function readyPod(
  client: KubeClient,
  namespace: string,
  service: string,
  selector: Record<string, string>,
): Promise<PodObject> {
  const labelSelector = Object.entries(selector).map(([k, v]) => `${k}=${v}`).join(",");
  let fromSlices: string[] = [];
  try {
    const slices = await client.list<EndpointSliceObject>(ENDPOINT_SLICE, {
      namespace,
      labelSelector: `kubernetes.io/service-name=${service}`,
    });
    fromSlices = slices.items.flatMap((slice) => slice.endpoints ?? [])
      .filter((e) => e.conditions?.ready !== false && e.targetRef?.kind === "Pod" && e.targetRef.name)
      .map((e) => e.targetRef!.name!);
  } catch {
    // EndpointSlices may be unreadable (RBAC) or absent; the selector still finds Pods.
  }
  const pods = await client.list<PodObject>(POD, { namespace, labelSelector });
  const ready = pods.items.filter((p) =>
    !p.metadata?.deletionTimestamp && p.status?.phase === "Running" &&
    (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True")
  );
  const preferred = ready.find((p) => fromSlices.includes(p.metadata?.name ?? "")) ?? ready[0];
  if (!preferred) {
    throw new KubeApiError(
      `no ready pods found for Service ${namespace}/${service} (selector ${labelSelector})`,
    );
  }
  return preferred;
}
