/**
 * Re-serving a body the gateway has started reading (or wants to watch) as a new stream, and
 * joining the chunks read from one.
 *
 * @module
 */

/** The bytes of `chunks` as one new array. */
export function concatBytes(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Options of `relayBody`. */
export interface RelayBodyOptions {
  /** Bytes already read from `reader`, sent first. */
  head?: Uint8Array;
  /** Called when the body ends, fails or the reader of the new stream cancels it (maybe more than once). */
  onEnd?: () => void;
}

/** The rest of `reader`'s body as a new stream, pulled as the new stream is read. */
export function relayBody(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  opts: RelayBodyOptions = {},
): ReadableStream<Uint8Array> {
  const end = () => opts.onEnd?.();
  return new ReadableStream<Uint8Array>({
    start(controller) {
      if (opts.head) controller.enqueue(opts.head);
    },
    async pull(controller) {
      try {
        const r = await reader.read();
        if (r.done) {
          end();
          controller.close();
        } else controller.enqueue(r.value);
      } catch (err) {
        end();
        controller.error(err);
      }
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  });
}
