/**
 * The params check of the parse stage: a request to a method the gateway answers is checked against
 * the MCP schema for that method before anything else sees it, so a malformed request gets `-32602`
 * with one short sentence (the first problem, its path and what was expected), never a schema
 * library's dump or an internal error.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  GetPromptRequestSchema,
  InitializeRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  PingRequestSchema,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from "@modelcontextprotocol/sdk/types.js";
import type { PostedMessage } from "./transport.ts";

interface Issue {
  path: PropertyKey[];
  message: string;
}
interface Checker {
  safeParse(value: unknown): { success: true } | { success: false; error: { issues: Issue[] } };
}

/** The schema of each request method the gateway answers or routes. */
const REQUEST_SCHEMAS: ReadonlyMap<string, Checker> = new Map<string, Checker>([
  ["initialize", InitializeRequestSchema],
  ["ping", PingRequestSchema],
  ["tools/list", ListToolsRequestSchema],
  ["tools/call", CallToolRequestSchema],
  ["prompts/list", ListPromptsRequestSchema],
  ["prompts/get", GetPromptRequestSchema],
  ["resources/list", ListResourcesRequestSchema],
  ["resources/templates/list", ListResourceTemplatesRequestSchema],
  ["resources/read", ReadResourceRequestSchema],
  ["resources/subscribe", SubscribeRequestSchema],
  ["resources/unsubscribe", UnsubscribeRequestSchema],
  ["completion/complete", CompleteRequestSchema],
  ["logging/setLevel", SetLevelRequestSchema],
]);

/** A plain object, as zod's `z.record` wants it (a JSON object always is). */
const isPlainRecord = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * True for `tools/call` params the SDK's `CallToolRequestSchema` accepts without a doubt: a string
 * `name`, `arguments` absent or an object, no `_meta` or `task`. Nearly every call is one, and the
 * schema costs a zod parse per call; anything else (including what the schema would accept too)
 * goes through the schema, which also words the error.
 */
function plainToolCall(params: unknown): boolean {
  return isPlainRecord(params) && typeof params.name === "string" &&
    (params.arguments === undefined || isPlainRecord(params.arguments)) &&
    params._meta === undefined && params.task === undefined;
}

/** The longest message `checkParams` returns: a hostile request cannot make the answer large. */
export const MAX_PARAMS_MESSAGE = 200;

/**
 * Undefined when `msg` (a request: it has a method and an id) has params its method accepts, or
 * when the gateway does not know the method; else the sentence for its `-32602` error, e.g.
 * `Invalid params for tools/call: params.name: expected string, received number.`
 */
export function checkParams(msg: PostedMessage): string | undefined {
  if (msg.method === undefined || msg.id === undefined) return undefined;
  if (msg.method === "tools/call" && plainToolCall(msg.params)) return undefined;
  const schema = REQUEST_SCHEMAS.get(msg.method);
  if (!schema) return undefined;
  const checked = schema.safeParse({
    method: msg.method,
    ...(msg.params !== undefined ? { params: msg.params } : {}),
  });
  if (checked.success) return undefined;
  const issue = checked.error.issues[0];
  const path = issue?.path.map(String).join(".") || "params";
  const what = (issue?.message ?? "invalid").replace(/^Invalid input: /, "");
  const sentence = `Invalid params for ${msg.method}: ${path}: ${what}`;
  return sentence.length > MAX_PARAMS_MESSAGE
    ? `${sentence.slice(0, MAX_PARAMS_MESSAGE - 1)}…`
    : `${sentence}.`;
}
