/**
 * A reader of Server-Sent Events with bounded memory, for streams that come from backends the
 * gateway does not trust. It interprets the bytes as the WHATWG HTML standard's "event stream
 * interpretation" says: lines end with CR, LF or CRLF (a CRLF split across chunks is one line
 * end), one leading byte order mark is skipped, `:` starts a comment, the data lines of an event
 * are joined with LF, an event without data lines is not dispatched, and whatever follows the last
 * blank line when the stream ends is discarded.
 *
 * Memory is bounded by two caps: a line longer than `maxLineBytes` or an event whose data lines
 * add up to more than `maxEventBytes` throws {@linkcode SseLimitError}, and the reader then fails
 * every later push with the same error. Lines are found in the bytes, so the caps are exact and a
 * partial line is checked as it grows, before its end arrives.
 *
 * ```ts
 * const reader = new SseReader({ maxLineBytes: 1 << 20, maxEventBytes: 1 << 20 });
 * reader.push(new TextEncoder().encode("data: hi\n\n"), (event) => console.log(event.data));
 * ```
 *
 * @module
 */
import { GatewayError } from "./errors.ts";

/** The cap on one SSE line and one SSE event when none is configured: 4 MiB. */
export const DEFAULT_SSE_LIMIT_BYTES = 4 * 1024 * 1024;

/** One dispatched event. */
export interface SseEvent {
  /** The event type; `message` when the stream named none. */
  type: string;
  /** The event's data lines joined with LF. */
  data: string;
  /** The stream's last event ID when the event was dispatched (it carries over between events). */
  lastEventId: string;
}

/** Options of an {@linkcode SseReader}. */
export interface SseReaderOptions {
  /** Longest line accepted, in bytes without its line end; default {@linkcode DEFAULT_SSE_LIMIT_BYTES}. */
  maxLineBytes?: number;
  /**
   * Largest event accepted: the bytes of its data lines, one more for each line end; default
   * {@linkcode DEFAULT_SSE_LIMIT_BYTES}.
   */
  maxEventBytes?: number;
}

/** A stream broke a cap of its {@linkcode SseReader}. */
export class SseLimitError extends GatewayError {
  /** Stable code of this error. */
  override readonly code: string = "ERR_SSE_LIMIT";
  /** Which cap: one line or one event. */
  readonly kind: "line" | "event";
  /** The cap, in bytes. */
  readonly limit: number;

  /** A broken cap on one `kind` of thing, of `limit` bytes. */
  constructor(kind: "line" | "event", limit: number) {
    super(`An SSE ${kind} exceeds the ${limit}-byte limit.`);
    this.kind = kind;
    this.limit = limit;
  }
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
/** `data:` */
const DATA = [0x64, 0x61, 0x74, 0x61, COLON];

function startsWithData(line: Uint8Array): boolean {
  if (line.length < 5) return false;
  for (let i = 0; i < 5; i++) if (line[i] !== DATA[i]) return false;
  return true;
}

/**
 * Decodes one whole line (no stream state, so one serves every reader). ignoreBOM: lines are
 * decoded one by one, and only the stream's first line may lose a BOM.
 */
const lineDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/** Splits an SSE byte stream into events, within caps on a line and an event. */
export class SseReader {
  readonly #maxLine: number;
  readonly #maxEvent: number;
  /** The bytes of the line not ended yet. */
  #parts: Uint8Array[] = [];
  #partBytes = 0;
  /** The last chunk ended with CR: an LF starting the next one ends no line. */
  #skipLF = false;
  #firstLine = true;
  #data: string[] = [];
  #eventBytes = 0;
  #type = "";
  #lastId = "";
  #failed?: SseLimitError;

  /** A reader of one stream, with the caps of `opts`. */
  constructor(opts: SseReaderOptions = {}) {
    this.#maxLine = opts.maxLineBytes ?? DEFAULT_SSE_LIMIT_BYTES;
    this.#maxEvent = opts.maxEventBytes ?? DEFAULT_SSE_LIMIT_BYTES;
  }

  /**
   * Reads `chunk` and calls `onEvent` with each event it completes, in order. Throws
   * {@linkcode SseLimitError} when a cap is broken, after the events before that point were given.
   * An exception thrown by `onEvent` ends the push (the rest of the chunk is not read).
   */
  push(chunk: Uint8Array, onEvent: (event: SseEvent) => void): void {
    if (this.#failed) throw this.#failed;
    const n = chunk.length;
    let i = 0;
    if (this.#skipLF && n > 0) {
      this.#skipLF = false;
      if (chunk[0] === LF) i = 1;
    }
    // Where the next CR and LF are; found once per chunk each, so the scan stays linear.
    let cr = -2;
    let lf = -2;
    while (i < n) {
      if (cr !== -1 && cr < i) cr = chunk.indexOf(CR, i);
      if (lf !== -1 && lf < i) lf = chunk.indexOf(LF, i);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) {
        if (this.#partBytes + n - i > this.#maxLine) throw this.#fail("line", this.#maxLine);
        this.#parts.push(chunk.slice(i));
        this.#partBytes += n - i;
        break;
      }
      if (this.#partBytes + end - i > this.#maxLine) throw this.#fail("line", this.#maxLine);
      this.#line(this.#partBytes ? this.#joined(chunk.subarray(i, end)) : chunk.subarray(i, end), onEvent);
      i = end + 1;
      if (chunk[end] === CR) {
        if (i === n) this.#skipLF = true;
        else if (chunk[i] === LF) i++;
      }
    }
  }

  /**
   * The stream ended: what was not followed by a blank line is discarded, as the standard says.
   * The reader can be used for a new stream afterwards (its last event ID is kept).
   */
  end(): void {
    this.#parts = [];
    this.#partBytes = 0;
    this.#skipLF = false;
    this.#firstLine = true;
    this.#data = [];
    this.#eventBytes = 0;
    this.#type = "";
  }

  #fail(kind: "line" | "event", limit: number): SseLimitError {
    this.#parts = [];
    this.#partBytes = 0;
    this.#data = [];
    return this.#failed = new SseLimitError(kind, limit);
  }

  #joined(tail: Uint8Array): Uint8Array {
    const line = new Uint8Array(this.#partBytes + tail.length);
    let at = 0;
    for (const part of this.#parts) {
      line.set(part, at);
      at += part.length;
    }
    line.set(tail, at);
    this.#parts = [];
    this.#partBytes = 0;
    return line;
  }

  #line(line: Uint8Array, onEvent: (event: SseEvent) => void): void {
    if (this.#firstLine) {
      this.#firstLine = false;
      if (line[0] === 0xef && line[1] === 0xbb && line[2] === 0xbf) line = line.subarray(3);
    }
    if (line.length === 0) return this.#dispatch(onEvent);
    if (line[0] === COLON) return;
    if (startsWithData(line)) {
      // The usual line, read without building the field name.
      this.#eventBytes += line.length + 1;
      if (this.#eventBytes > this.#maxEvent) throw this.#fail("event", this.#maxEvent);
      this.#data.push(lineDecoder.decode(line.subarray(line[5] === SPACE ? 6 : 5)));
      return;
    }
    const text = lineDecoder.decode(line);
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.charCodeAt(0) === SPACE) value = value.slice(1);
    switch (field) {
      case "data":
        // `data` without a colon: an empty data line.
        this.#eventBytes += line.length + 1;
        if (this.#eventBytes > this.#maxEvent) throw this.#fail("event", this.#maxEvent);
        this.#data.push(value);
        break;
      case "event":
        this.#type = value;
        break;
      case "id":
        if (!value.includes("\0")) this.#lastId = value;
        break;
        // `retry` and unknown fields change nothing a relay keeps.
    }
  }

  #dispatch(onEvent: (event: SseEvent) => void): void {
    const data = this.#data;
    const type = this.#type || "message";
    this.#data = [];
    this.#eventBytes = 0;
    this.#type = "";
    // Reset first: the reader stays consistent whatever onEvent does.
    if (data.length > 0) {
      onEvent({ type, data: data.length === 1 ? data[0] : data.join("\n"), lastEventId: this.#lastId });
    }
  }
}

/**
 * One event as SSE text: `event` and `id` lines when given, then the data (a line per LF, CR or
 * CRLF in it), then the blank line that dispatches it.
 */
export function formatSseEvent(data: string, opts: { type?: string; id?: string } = {}): string {
  let out = opts.type ? `event: ${opts.type}\n` : "";
  if (opts.id !== undefined) out += `id: ${opts.id}\n`;
  const lines = data.includes("\n") || data.includes("\r") ? data.split(/\r\n|\r|\n/) : [data];
  for (const line of lines) out += `data: ${line}\n`;
  return out + "\n";
}
