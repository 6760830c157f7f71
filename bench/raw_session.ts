/**
 * MCP sessions opened with plain fetch, as a client that only initialises would: no SDK client in
 * the bench process, so what a session costs the server is all that is measured.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import { LATEST_PROTOCOL_VERSION } from "@modelcontextprotocol/sdk/types.js";

/** The Accept header an MCP client sends on POST (Streamable HTTP). */
export const ACCEPT = "application/json, text/event-stream";

/** initialize + notifications/initialized with plain fetch; returns the session id, session left open. */
export async function openSession(url: string, i: number): Promise<string> {
  const res = await fetch(url, {
    method: "POST",
    headers: { accept: ACCEPT, "content-type": "application/json" },
    body: JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: LATEST_PROTOCOL_VERSION,
        capabilities: {},
        clientInfo: { name: `bench-${i}`, version: "1.0.0" },
      },
    }),
  });
  const body = await res.text();
  const sid = res.headers.get("mcp-session-id");
  if (res.status !== 200 || !sid) throw new Error(`initialize answered ${res.status}: ${body.slice(0, 200)}`);
  const note = await fetch(url, {
    method: "POST",
    headers: {
      accept: ACCEPT,
      "content-type": "application/json",
      "mcp-session-id": sid,
      "mcp-protocol-version": LATEST_PROTOCOL_VERSION,
    },
    body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
  });
  await note.body?.cancel();
  if (note.status !== 202) throw new Error(`notifications/initialized answered ${note.status}`);
  return sid;
}

/** DELETE of session `sid`. */
export async function deleteSession(url: string, sid: string): Promise<void> {
  const res = await fetch(url, {
    method: "DELETE",
    headers: { "mcp-session-id": sid, "mcp-protocol-version": LATEST_PROTOCOL_VERSION },
  });
  await res.body?.cancel();
}

/** Runs `fn` over `count` indexes with at most `limit` in flight. */
export async function pool<R>(count: number, limit: number, fn: (i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(count);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, count) }, async () => {
    while (next < count) {
      const i = next++;
      out[i] = await fn(i);
    }
  }));
  return out;
}

/**
 * Opens and deletes `count` sessions, 16 at a time: what a fresh process compiles and caches once, or
 * the churn the gateway suite's memory phase leaves behind.
 */
export async function churnSessions(url: string, count: number): Promise<void> {
  const ids = await pool(count, 16, (i) => openSession(url, i));
  await pool(ids.length, 16, (i) => deleteSession(url, ids[i]));
}
