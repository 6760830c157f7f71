/**
 * List-then-watch as client-go's reflector does it: list, then watch from the list's
 * resourceVersion with bookmarks, reconnect from the last seen version when the stream ends or
 * breaks, and relist when the version has expired (410 Gone), turning the difference into events.
 *
 * @module
 */

import { KubeApiError } from "../errors.ts";
import type { KubeClient, KubeObject, ResourceInfo } from "./client.ts";

/** Watch event types; `BOOKMARK` carries only a resourceVersion. */
export type WatchEventType = "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK";

/** One change. */
export interface WatchEvent<T extends KubeObject = KubeObject> {
  /** What happened. */
  type: WatchEventType;
  /** The object after the change (before it, for DELETED). */
  object: T;
}

/** Options of {@link listAndWatch}. */
export interface WatchOptions {
  /** Namespace; `null` watches every namespace; undefined uses the client's. */
  namespace?: string | null;
  /** Label selector. */
  labelSelector?: string;
  /** Field selector. */
  fieldSelector?: string;
  /** Stops the iteration. */
  signal?: AbortSignal;
  /** Emit ADDED for the objects that exist when watching starts (default true). */
  initialEvents?: boolean;
  /** Emit BOOKMARK events (default false; they are always used to track the version). */
  bookmarks?: boolean;
  /** Server-side timeout of one watch request, in seconds (default 300); the watch then reconnects. */
  timeoutSeconds?: number;
  /**
   * Milliseconds without a byte from the server after which the watch reconnects (default
   * `timeoutSeconds` plus 30 s): the server ends every watch by then, so silence past it is a
   * connection that died without closing.
   */
  idleMs?: number;
  /** Called once the events of the initial list have been consumed, before watching starts. */
  onSynced?: () => void;
  /** Called before reconnecting, with the reason, for `-v` style logging and tests. */
  onReconnect?: (reason: string) => void;
}

const keyOf = (object: KubeObject) => `${object.metadata?.namespace ?? ""}/${object.metadata?.name ?? ""}`;

/**
 * Lists and then watches objects of one type, yielding events until `signal` (or the client's
 * signal) aborts. Opening a watch is bounded by the client's request timeout; an open watch by
 * {@link WatchOptions.idleMs}.
 */
export async function* listAndWatch<T extends KubeObject = KubeObject>(
  client: KubeClient,
  resource: ResourceInfo,
  options: WatchOptions = {},
): AsyncGenerator<WatchEvent<T>> {
  const signal = client.abortSignal(options.signal);
  const timeoutSeconds = options.timeoutSeconds ?? 300;
  const idleMs = options.idleMs ?? (timeoutSeconds + 30) * 1000;
  const namespace = resource.namespaced
    ? (options.namespace === null ? undefined : options.namespace ?? client.namespace)
    : undefined;
  const known = new Map<string, T>();
  let resourceVersion = "";
  let first = true;
  let delay = 200;

  const relist = async function* (): AsyncGenerator<WatchEvent<T>> {
    const list = await client.list<T>(resource, {
      namespace: namespace ?? null,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      signal,
    });
    resourceVersion = list.metadata.resourceVersion ?? "";
    const seen = new Set<string>();
    const events: WatchEvent<T>[] = [];
    for (const item of list.items) {
      const key = keyOf(item);
      seen.add(key);
      const before = known.get(key);
      known.set(key, item);
      if (!before) {
        if (!first || options.initialEvents !== false) events.push({ type: "ADDED", object: item });
      } else if (before.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        events.push({ type: "MODIFIED", object: item });
      }
    }
    for (const [key, object] of known) {
      if (!seen.has(key)) {
        known.delete(key);
        events.push({ type: "DELETED", object });
      }
    }
    first = false;
    yield* events;
  };

  yield* relist();
  options.onSynced?.();
  while (!signal?.aborted) {
    let outcome: "ended" | "gone" | "idle";
    try {
      outcome = yield* watchOnce();
      delay = 200;
    } catch (error) {
      if (signal?.aborted) return;
      if (error instanceof KubeApiError && error.status === 410) {
        outcome = "gone";
      } else if (error instanceof KubeApiError && [401, 403, 404].includes(error.status)) {
        throw error;
      } else {
        options.onReconnect?.(`watch failed: ${(error as Error).message}`);
        await sleep(delay, signal);
        delay = Math.min(delay * 2, 5000);
        continue;
      }
    }
    if (outcome === "gone") {
      options.onReconnect?.("resource version expired; relisting");
      yield* relist();
    } else if (outcome === "idle") {
      options.onReconnect?.(`no data from the server for ${idleMs / 1000}s; reconnecting`);
    } else {
      options.onReconnect?.("watch ended; reconnecting");
    }
  }

  async function* watchOnce(): AsyncGenerator<WatchEvent<T>, "ended" | "gone" | "idle"> {
    const idle = new AbortController();
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    const awake = () => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => idle.abort(), idleMs);
    };
    const response = await client.request("GET", client.path(resource, { namespace }), {
      query: {
        watch: 1,
        resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
        labelSelector: options.labelSelector,
        fieldSelector: options.fieldSelector,
      },
      signal: signal ? AbortSignal.any([signal, idle.signal]) : idle.signal,
      stream: true,
      context: { verb: "watch", resource, namespace },
    });
    if (!response.body) return "ended";
    const lines = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(splitLines());
    awake();
    try {
      for await (const line of lines) {
        awake();
        if (!line.trim()) continue;
        const event = JSON.parse(line) as { type: string; object: T & { code?: number } };
        if (event.type === "ERROR") {
          if (event.object.code === 410) return "gone";
          throw new KubeApiError(String((event.object as { message?: string }).message ?? "watch error"), {
            status: event.object.code ?? 500,
          });
        }
        const rv = event.object.metadata?.resourceVersion;
        if (rv) resourceVersion = rv;
        if (event.type === "BOOKMARK") {
          if (options.bookmarks) yield { type: "BOOKMARK", object: event.object };
          continue;
        }
        const key = keyOf(event.object);
        if (event.type === "DELETED") known.delete(key);
        else known.set(key, event.object);
        yield { type: event.type as WatchEventType, object: event.object };
      }
    } catch (error) {
      if (signal?.aborted) return "ended";
      if (idle.signal.aborted) return "idle";
      throw error;
    } finally {
      clearTimeout(idleTimer);
    }
    return "ended";
  }
}

/** A TransformStream that splits text into lines. */
function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      let index;
      while ((index = buffer.indexOf("\n")) >= 0) {
        controller.enqueue(buffer.slice(0, index));
        buffer = buffer.slice(index + 1);
      }
    },
    flush(controller) {
      if (buffer) controller.enqueue(buffer);
    },
  });
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
