/**
 * `kubectl mcp auth can-i`: may this identity call this tool, get this prompt, list the tools, and
 * which policy rule says so. The answer is what the gateway would do, asked of the replay's own
 * AuthPolicy gate with the requests an MCP client sends, as upstream's router shapes them:
 *
 * - a session first: `initialize` and `notifications/initialized` go through the broker's route
 *   (`x-mcp-method`, `x-mcp-servername: mcpBroker`), so its policy must let them through;
 * - `tools/call TOOL` (`prompts/get NAME`) goes through the owning server's HTTPRoute, with the
 *   `x-mcp-toolname` (`x-mcp-promptname`), `x-mcp-servername` and `x-mcp-annotation-hints` the
 *   router sets, so that route's policy decides; a meta-tool or an unknown name stays on the broker;
 * - with `--enforce-virtual-servers`, a name outside the selected virtual server is refused after;
 * - `tools/list` goes through the broker's route; what it lists is the catalog filtered by the
 *   wristband the policy issued (`x-mcp-authorized`, verified with the extension's trusted headers
 *   key) and then by the virtual server, as the broker filters.
 *
 * Nothing is called: each decision comes from the gate's `explain` (`sim/auth/trace.ts`), the same
 * engines the gateway's requests go through.
 *
 * @module
 */

import type { AuthPolicyGate, GateTrace } from "../../sim/auth/gate.ts";
import type { AuthTrace, RuleTrace } from "../../sim/auth/trace.ts";
import { wristbandFilter } from "../../sim/auth/trusted_headers.ts";
import type { Catalog } from "../../sim/federation.ts";
import type { GatewayConfig } from "../../sim/config.ts";
import { computeAttributes } from "../../sim/routing.ts";
import { VIRTUAL_SERVER_HEADER } from "../mcp/client.ts";
import type { Replay } from "../replay/mod.ts";
import type { ExplainAuth } from "../tools/explain.ts";

/** What is asked. */
export type CanIAction =
  | { verb: "call"; name: string }
  | { verb: "get-prompt"; name: string }
  | { verb: "list"; name: "tools" };

/** The gateway the question is asked of: a replay's. */
export interface CanIGateway {
  /** The gateway's MCP endpoint (the requests are addressed to it, as a client's are). */
  url: string;
  /** The AuthPolicy gate; undefined when no policy is replayed (everything is allowed). */
  gate: AuthPolicyGate | undefined;
  /** The gateway's config (virtual servers, the trusted headers key). */
  config: GatewayConfig;
  /** The federated catalog (tools, prompts, prefixes). */
  catalog: Catalog;
  /** The gateway's own meta-tools (`discover_tools`, ...), by name. */
  metaTools: readonly string[];
}

/** Who asks, and through which virtual server. */
export interface CanIIdentity {
  /** The credential the client presents as `Authorization: Bearer` (absent: anonymous). */
  token?: string;
  /** `ns/name` of the virtual server the client selects (`X-Mcp-Virtualserver`). */
  virtualServer?: string;
}

/** One request the gateway evaluates on the way, and how its policy decided. Never a credential. */
export interface CanIStep {
  /** The request: `initialize`, `tools/list`, `tools/call weather_search`, ... */
  request: string;
  /** Where it is evaluated: `broker` or `server ns/name`. */
  where: string;
  /** Whether the gateway lets it through. */
  allowed: boolean;
  /** The HTTP status of a refusal. */
  status?: number;
  /** The policies (`ns/name`) whose rules apply there; empty when none does. */
  policies: string[];
  /** The stage that decided (see `AuthTrace.stage`), or `gateway` for the gateway's own refusal. */
  stage?: AuthTrace["stage"] | "gateway";
  /** The rule (or identity methods) that decided a refusal. */
  rule?: string;
  /** The predicate that does not hold. */
  predicate?: string;
  /** One sentence: why. */
  reason: string;
  /** The identity method that accepted the credential. */
  identityMethod?: string;
  /** Each authorization rule's outcome. */
  rules?: RuleTrace[];
}

/** Whether one tool is in the identity's `tools/list`, and what removed it. */
export interface ListedTool {
  /** The federated (prefixed) name. */
  name: string;
  /** `ns/name` of the owning registration; `gateway` for the meta-tools. */
  server: string;
  /** Whether the identity's list (through the virtual server) shows it. */
  listed: boolean;
  /** What removed it: the wristband the policy issued, or the virtual server. */
  filteredBy?: "wristband" | "virtual-server";
}

/** The answer. */
export interface CanIAnswer {
  /** yes or no. */
  allowed: boolean;
  /** `call TOOL`, `get-prompt NAME`, `list tools`. */
  action: string;
  /** The virtual server asked through. */
  virtualServer?: string;
  /** `ns/name` of the registration owning the tool or prompt, when one does. */
  server?: string;
  /** The step that decided: the first one refused, else the action's own. */
  decidedBy: CanIStep;
  /** Every request on the way, in order. */
  steps: CanIStep[];
  /** For `call`: whether the identity's `tools/list` shows the tool (clients that list first need it). */
  listed?: boolean;
  /** For `list tools`: every tool with whether it is listed. */
  tools?: ListedTool[];
  /** Anything else worth saying (an unknown virtual server, a tool the identity does not see). */
  notes: string[];
}

const SESSION = ["initialize", "notifications/initialized"] as const;

/** Asks the gateway's policies whether the identity may do `action`. */
export async function canI(gw: CanIGateway, identity: CanIIdentity, action: CanIAction): Promise<CanIAnswer> {
  const notes = virtualServerNotes(gw, identity);
  const session = await sessionSteps(gw, identity);
  if (action.verb === "list") {
    const list = await step(gw, identity, "tools/list", {});
    const steps = [...session, list.step];
    const refused = steps.find((s) => !s.allowed);
    const tools = list.step.allowed ? await listView(gw, identity, list.trace) : undefined;
    if (tools && tools.some((t) => t.filteredBy === "wristband")) {
      const kept = tools.filter((t) => t.filteredBy !== "wristband").length;
      notes.push(`the wristband the policy issued keeps ${kept} of ${tools.length} tools`);
    }
    return {
      allowed: !refused,
      action: "list tools",
      ...(identity.virtualServer ? { virtualServer: identity.virtualServer } : {}),
      decidedBy: refused ?? list.step,
      steps,
      ...(tools ? { tools } : {}),
      notes,
    };
  }
  const answer = await routedAnswer(gw, identity, action, session, notes);
  if (action.verb === "call") {
    const list = await step(gw, identity, "tools/list", {});
    if (list.step.allowed) {
      const view = await listView(gw, identity, list.trace);
      const tool = view.find((t) => t.name === action.name);
      answer.listed = tool?.listed ?? false;
      if (answer.allowed && tool && !tool.listed) {
        answer.notes.push(
          `${action.name} is not in this identity's tools/list (${
            tool.filteredBy === "wristband"
              ? "the wristband leaves it out"
              : "the virtual server leaves it out"
          }): the gateway routes the call, but a client that lists tools first will not see it`,
        );
      }
    } else answer.listed = false;
  }
  return answer;
}

/** Every tool of the catalog (meta-tools included) with the identity's answer to `call` it. */
export async function canICallEach(
  gw: CanIGateway,
  identity: CanIIdentity,
): Promise<{ session: CanIStep[]; tools: (ListedTool & { answer: CanIAnswer })[]; notes: string[] }> {
  const notes = virtualServerNotes(gw, identity);
  const session = await sessionSteps(gw, identity);
  const list = await step(gw, identity, "tools/list", {});
  const view = list.step.allowed ? await listView(gw, identity, list.trace) : allTools(gw).map((t) => ({
    ...t,
    listed: false,
  }));
  const tools = [];
  // By name, as `tools` prints them: the catalog's order is the order the servers' lists arrived in.
  for (const tool of view.toSorted((a, b) => a.name.localeCompare(b.name))) {
    const answer = await routedAnswer(gw, identity, { verb: "call", name: tool.name }, session, []);
    tools.push({ ...tool, answer: { ...answer, listed: tool.listed } });
  }
  return { session, tools, notes };
}

/** `call` and `get-prompt`: the session, then the routed request, then the gateway's own checks. */
async function routedAnswer(
  gw: CanIGateway,
  identity: CanIIdentity,
  action: { verb: "call" | "get-prompt"; name: string },
  session: CanIStep[],
  notes: string[],
): Promise<CanIAnswer> {
  const method = action.verb === "call" ? "tools/call" : "prompts/get";
  const kind = action.verb === "call" ? "tool" : "prompt";
  const params = { name: action.name, arguments: {} };
  const meta = action.verb === "call" && gw.metaTools.includes(action.name);
  const server = computeAttributes(method, params, gw.catalog, new Map(), identity.virtualServer).serverName;
  // The router answers a name no server owns itself, before the auth filter: no policy is asked.
  const routed: CanIStep = !server && !meta
    ? {
      request: `${method} ${action.name}`,
      where: "router",
      allowed: false,
      policies: [],
      stage: "gateway",
      reason: `no server provides ${kind} ${action.name}: the router answers ${
        kind === "tool" ? "Tool" : "Prompt"
      } not found before the AuthPolicy`,
    }
    : (await step(gw, identity, method, params)).step;
  const steps = [...session, routed];
  const answer = (decidedBy: CanIStep): CanIAnswer => ({
    allowed: steps.every((s) => s.allowed),
    action: `${action.verb} ${action.name}`,
    ...(identity.virtualServer ? { virtualServer: identity.virtualServer } : {}),
    ...(server ? { server } : {}),
    decidedBy,
    steps,
    notes,
  });
  const refused = steps.find((s) => !s.allowed);
  if (refused) return answer(refused);
  // Past the policy, the gateway's own answer: a name outside a virtual server that is enforced.
  const vs = identity.virtualServer
    ? gw.config.virtualServers.find((v) => v.name === identity.virtualServer)
    : undefined;
  if (vs && gw.config.extension.enforceVirtualServers) {
    const outside = action.verb === "call"
      ? !vs.tools.includes(action.name)
      : Boolean(vs.prompts?.length) && !vs.prompts!.includes(action.name);
    if (outside) {
      Object.assign(routed, {
        allowed: false,
        stage: "gateway",
        reason:
          `${kind} ${action.name} is not in virtual server ${vs.name}, and virtual servers are enforced`,
      });
      return answer(routed);
    }
  }
  return answer(routed);
}

/** `initialize` and `notifications/initialized`: what a client needs before anything else. */
async function sessionSteps(gw: CanIGateway, identity: CanIIdentity): Promise<CanIStep[]> {
  const out: CanIStep[] = [];
  for (const method of SESSION) {
    const params = method === "initialize"
      ? {
        protocolVersion: "2025-06-18",
        capabilities: {},
        clientInfo: { name: "kubectl-mcp", version: "can-i" },
      }
      : undefined;
    out.push((await step(gw, identity, method, params)).step);
  }
  return out;
}

/** One request through the gate, as a client would send it. */
async function step(
  gw: CanIGateway,
  identity: CanIIdentity,
  method: string,
  params: Record<string, unknown> | undefined,
): Promise<{ step: CanIStep; trace?: GateTrace }> {
  const attributes = computeAttributes(method, params, gw.catalog, new Map(), identity.virtualServer);
  const request = clientRequest(gw.url, identity, method, params);
  const name = typeof params?.name === "string" ? ` ${params.name}` : "";
  const label = `${method}${name}`;
  if (!gw.gate) {
    return {
      step: {
        request: label,
        where: "broker",
        allowed: true,
        policies: [],
        reason: "no AuthPolicy is replayed",
      },
      ...(attributes.serverName ? { server: attributes.serverName } : {}),
    };
  }
  const gate = await gw.gate.explain({ attributes, request });
  return { step: stepOf(label, gate), trace: gate };
}

/** A gate's answer as a step (the decision's headers and identity are left out: they may be credentials). */
function stepOf(request: string, gate: GateTrace): CanIStep {
  const trace = gate.trace;
  const decision = gate.decision;
  if (!trace) {
    return {
      request,
      where: gate.where,
      allowed: decision.allow,
      policies: [],
      reason: `no AuthPolicy applies to the ${gate.where === "broker" ? "broker's route" : gate.where}`,
    };
  }
  return {
    request,
    where: gate.where,
    allowed: decision.allow,
    ...(decision.allow ? {} : { status: decision.status }),
    policies: trace.policies,
    stage: trace.stage,
    ...(trace.rule !== undefined ? { rule: trace.rule } : {}),
    ...(trace.predicate !== undefined ? { predicate: trace.predicate } : {}),
    reason: trace.reason,
    ...(trace.identity?.method ? { identityMethod: trace.identity.method } : {}),
    ...(trace.authorization.length ? { rules: trace.authorization } : {}),
  };
}

/** The POST a client sends for `method` (after initialize it would add its session id, which no policy here reads). */
function clientRequest(
  url: string,
  identity: CanIIdentity,
  method: string,
  params: Record<string, unknown> | undefined,
): Request {
  const headers = new Headers({
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    host: new URL(url).host,
  });
  if (identity.token !== undefined) headers.set("authorization", `Bearer ${identity.token}`);
  if (identity.virtualServer) headers.set(VIRTUAL_SERVER_HEADER, identity.virtualServer);
  if (method !== "initialize") headers.set("mcp-protocol-version", "2025-06-18");
  const notification = method.startsWith("notifications/");
  const body = JSON.stringify({
    jsonrpc: "2.0",
    ...(notification ? {} : { id: 1 }),
    method,
    ...(params ? { params } : {}),
  });
  return new Request(url, { method: "POST", headers, body });
}

/** The catalog's tools and the meta-tools, with their servers. */
function allTools(gw: CanIGateway): { name: string; server: string }[] {
  return [
    ...[...gw.catalog.tools.values()].map((t) => ({ name: t.tool.name, server: t.server })),
    ...gw.metaTools.map((name) => ({ name, server: "gateway" })),
  ];
}

/** The broker's list filter for the identity: the wristband its `tools/list` got, then the virtual server. */
async function listView(
  gw: CanIGateway,
  identity: CanIIdentity,
  list: GateTrace | undefined,
): Promise<ListedTool[]> {
  const granted = list?.decision.allow ? list.decision.requestHeaders : undefined;
  const clientHeaders = identity.virtualServer ? { [VIRTUAL_SERVER_HEADER]: identity.virtualServer } : {};
  const keep = await wristbandFilter({
    ...(granted ? { granted } : {}),
    clientHeaders,
    publicKeyPem: gw.config.extension.trustedHeadersPublicKey,
    enforce: gw.config.extension.enforceCapabilityFilter,
    servers: gw.config.servers,
  });
  const tools = allTools(gw);
  const kept = new Set(keep(tools, "tools").map((t) => t.name));
  const vs = identity.virtualServer
    ? gw.config.virtualServers.find((v) => v.name === identity.virtualServer)
    : undefined;
  return tools.map((tool) => {
    if (!kept.has(tool.name)) return { ...tool, listed: false, filteredBy: "wristband" as const };
    if (vs && !vs.tools.includes(tool.name)) {
      return { ...tool, listed: false, filteredBy: "virtual-server" as const };
    }
    return { ...tool, listed: true };
  });
}

function virtualServerNotes(gw: CanIGateway, identity: CanIIdentity): string[] {
  const name = identity.virtualServer;
  if (!name || gw.config.virtualServers.some((v) => v.name === name)) return [];
  return [
    `virtual server ${name} matches no MCPVirtualServer: the gateway serves such a client every tool, unfiltered`,
  ];
}

/** A replay's gateway, as {@linkcode canI} asks it. */
export async function replayGateway(replay: Replay): Promise<CanIGateway> {
  const gateway = replay.gateway.gateway;
  return {
    url: replay.url,
    gate: replay.gate,
    config: gateway.config,
    catalog: gateway.catalog,
    metaTools: (await replay.status()).metaTools,
  };
}

/** What the policies say about one tool for `tools --explain`: the list refused, the wristband, the call refused. */
export async function explainAuth(
  gw: CanIGateway,
  identity: CanIIdentity,
  tool: string,
): Promise<ExplainAuth> {
  const auth: ExplainAuth = {};
  const list = await canI(gw, identity, { verb: "list", name: "tools" });
  if (!list.allowed) auth.listDenied = describeStep(list.decidedBy).join("; ");
  const entry = list.tools?.find((candidate) => candidate.name === tool);
  if (entry) auth.wristband = entry.filteredBy === "wristband" ? "dropped" : "kept";
  const call = await canI(gw, identity, { verb: "call", name: tool });
  // The gateway's own refusals (unknown tool, enforced virtual server) have codes of their own.
  if (!call.allowed && call.decidedBy.stage !== "gateway") {
    auth.callDenied = describeStep(call.decidedBy).join("; ");
  }
  return auth;
}

/** The answer as `kubectl auth can-i` prints it: yes or no, then what decided, indented. */
export function formatAnswer(answer: CanIAnswer): string {
  const lines = [answer.allowed ? "yes" : "no"];
  lines.push(...describeStep(answer.decidedBy).map((line) => `  ${line}`));
  if (answer.tools) {
    const listed = answer.tools.filter((tool) => tool.listed).map((tool) => tool.name);
    lines.push(`  tools/list shows ${listed.length ? listed.join(", ") : "no tools"}`);
  }
  for (const note of answer.notes) lines.push(`  note: ${note}`);
  return lines.join("\n") + "\n";
}

/** What decided one step, in one to three lines. */
export function describeStep(step: CanIStep): string[] {
  const by = step.policies.length ? ` by ${step.policies.join(", ")}` : "";
  const head = `${step.request} -> ${step.where}:`;
  if (step.stage === "gateway") return [`${head} ${step.reason}`];
  if (step.allowed) {
    if (!step.policies.length) return [`${head} allowed (${step.reason})`];
    if (step.stage === "when") return [`${head} allowed${by}: ${step.reason}`];
    const identity = step.identityMethod ? `identity ${step.identityMethod}` : "";
    const passed = (step.rules ?? []).filter((r) => r.result === "passed").map((r) => r.name);
    const rules = passed.length ? `rule${passed.length > 1 ? "s" : ""} ${passed.join(", ")} passed` : "";
    const what = [identity, rules].filter(Boolean).join("; ");
    return [`${head} allowed${by}${what ? ` (${what})` : ""}`];
  }
  const status = step.status !== undefined ? ` ${step.status}` : "";
  if (step.stage === "identity") {
    return [`${head} denied${status}${by}, identity ${step.rule}: ${step.reason}`];
  }
  const lines = [`${head} denied${status}${by}${step.rule ? `, rule ${step.rule}` : ""}: ${step.reason}`];
  if (step.predicate) lines.push(`predicate: ${step.predicate}`);
  return lines;
}
