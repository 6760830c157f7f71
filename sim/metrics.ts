/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in text
 * exposition format 0.0.4 for `/metrics`.
 *
 * Every label value comes from a fixed set, so no client or backend can grow the registry: a
 * method is one of the spec's MCP methods or one of the gateway's own labels (else `other`), a
 * status one of the HTTP statuses the gateway answers with (else `other`), a relay kind
 * `response` or `cancel` (else `other`), and a server one of the configured servers (once
 * {@link Metrics.servers} has been told them; series of other servers are dropped).
 *
 * @module
 */

type Labels = Record<string, string>;
const render = (labels: Labels) => {
  const entries = Object.entries(labels);
  if (!entries.length) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${entries.map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;
};

/** The JSON-RPC methods of the MCP specification (2025-11-25), requests and notifications, both ways. */
export const MCP_METHODS: ReadonlySet<string> = new Set([
  "initialize",
  "ping",
  "completion/complete",
  "logging/setLevel",
  "prompts/get",
  "prompts/list",
  "resources/list",
  "resources/templates/list",
  "resources/read",
  "resources/subscribe",
  "resources/unsubscribe",
  "tools/call",
  "tools/list",
  "tasks/get",
  "tasks/result",
  "tasks/list",
  "tasks/cancel",
  "sampling/createMessage",
  "elicitation/create",
  "roots/list",
  "notifications/initialized",
  "notifications/cancelled",
  "notifications/progress",
  "notifications/message",
  "notifications/roots/list_changed",
  "notifications/resources/updated",
  "notifications/resources/list_changed",
  "notifications/tools/list_changed",
  "notifications/prompts/list_changed",
  "notifications/elicitation/complete",
  "notifications/tasks/status",
]);

/**
 * Method labels the gateway uses besides the MCP methods: the HTTP method of a request without a
 * JSON-RPC method (GET streams, DELETE, refused POSTs), `batch`, a client's `response`, and an
 * upstream's `list` refresh.
 */
const GATEWAY_LABELS: ReadonlySet<string> = new Set(["GET", "POST", "DELETE", "batch", "response", "list"]);

/** HTTP statuses that get a label of their own; others count as `other`. */
const STATUSES: ReadonlySet<number> = new Set([
  200,
  202,
  204,
  400,
  401,
  403,
  404,
  405,
  406,
  408,
  409,
  413,
  415,
  429,
  500,
  502,
  503,
  504,
]);

/** The label for a method: itself when it is an MCP method or a gateway label, else `other`. */
export function methodLabel(method: string): string {
  return MCP_METHODS.has(method) || GATEWAY_LABELS.has(method) ? method : "other";
}

/** The label for an HTTP status: itself when it is one the gateway answers with, else `other`. */
export function statusLabel(status: number): string {
  return STATUSES.has(status) ? String(status) : "other";
}

/** Latency buckets in seconds, sized for loopback tests up to slow upstream calls. */
export const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The gateway's metrics. */
export class Metrics {
  #requests = new Map<string, { labels: Labels; value: number }>();
  #latency = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  #upstreamUp = new Map<string, number>();
  #sessions = 0;
  #scopedSessions = 0;
  #relayed = new Map<string, number>();
  #rateLimited = new Map<string, { labels: Labels; value: number }>();
  /** The configured servers, once known; until then every server name is counted. */
  #servers?: ReadonlySet<string>;

  /**
   * Tells the registry which servers are configured: only they get series from now on, and the
   * series of any other server are dropped. Call it whenever the configuration changes.
   */
  servers(names: Iterable<string>): void {
    this.#servers = new Set(names);
    for (const server of this.#upstreamUp.keys()) {
      if (!this.#servers.has(server)) this.removeUpstream(server);
    }
    for (const e of this.#latency.values()) {
      if (!this.#servers.has(e.labels.server)) this.removeUpstream(e.labels.server);
    }
  }

  #counted(server: string): boolean {
    return this.#servers === undefined || this.#servers.has(server);
  }

  /** Counts one `/mcp` request by JSON-RPC method (or HTTP method) and HTTP status. */
  request(method: string, status: number): void {
    const m = methodLabel(method);
    const st = statusLabel(status);
    // On every request: a plain string key, not the sorted-labels one.
    const k = `${m}\0${st}`;
    const e = this.#requests.get(k);
    if (e) e.value++;
    else this.#requests.set(k, { labels: { method: m, status: st }, value: 1 });
  }

  /** Counts a client's message relayed to the replica holding its call (`response` or `cancel`). */
  relayed(kind: string): void {
    const k = kind === "response" || kind === "cancel" ? kind : "other";
    this.#relayed.set(k, (this.#relayed.get(k) ?? 0) + 1);
  }

  /**
   * Counts a request a RateLimitPolicy limited. The labels come from the policies (their `ns/name`
   * and limit names), never from a request, so the series are bounded by the objects replayed.
   */
  rateLimited(policy: string, limit: string): void {
    const k = `${policy}\0${limit}`;
    const e = this.#rateLimited.get(k);
    if (e) e.value++;
    else this.#rateLimited.set(k, { labels: { policy, limit }, value: 1 });
  }

  /** Sets the number of sessions with a `select_tools` scope. */
  scopedSessions(count: number): void {
    this.#scopedSessions = count;
  }

  /** Records how long an upstream took to answer. */
  upstreamLatency(server: string, method: string, seconds: number): void {
    if (!this.#counted(server)) return;
    const m = methodLabel(method);
    // On every call: a plain string key and no label object once the series exists.
    const k = `${server}\0${m}`;
    let e = this.#latency.get(k);
    if (!e) {
      e = { labels: { server, method: m }, counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.#latency.set(k, e);
    }
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) if (seconds <= LATENCY_BUCKETS[i]) e.counts[i]++;
    e.sum += seconds;
    e.count++;
  }

  /** Sets the health gauge of an upstream (1 healthy, 0 not). */
  upstreamHealth(server: string, up: boolean): void {
    if (this.#counted(server)) this.#upstreamUp.set(server, up ? 1 : 0);
  }

  /** Forgets an upstream that left the config: its health and latency series. */
  removeUpstream(server: string): void {
    this.#upstreamUp.delete(server);
    for (const [k, e] of this.#latency) {
      if (e.labels.server === server) this.#latency.delete(k);
    }
  }

  /** Sets the number of live client sessions. */
  sessions(count: number): void {
    this.#sessions = count;
  }

  /** Text exposition format. */
  render(): string {
    const out: string[] = [];
    out.push("# HELP mcp_gateway_requests_total MCP requests by method and HTTP status.");
    out.push("# TYPE mcp_gateway_requests_total counter");
    for (const e of this.#requests.values()) {
      out.push(`mcp_gateway_requests_total${render(e.labels)} ${e.value}`);
    }
    out.push("# HELP mcp_gateway_upstream_request_duration_seconds Upstream request latency.");
    out.push("# TYPE mcp_gateway_upstream_request_duration_seconds histogram");
    for (const e of this.#latency.values()) {
      LATENCY_BUCKETS.forEach((b, i) => {
        out.push(
          `mcp_gateway_upstream_request_duration_seconds_bucket${render({ ...e.labels, le: String(b) })} ${
            e.counts[i]
          }`,
        );
      });
      out.push(
        `mcp_gateway_upstream_request_duration_seconds_bucket${
          render({ ...e.labels, le: "+Inf" })
        } ${e.count}`,
      );
      out.push(`mcp_gateway_upstream_request_duration_seconds_sum${render(e.labels)} ${e.sum}`);
      out.push(`mcp_gateway_upstream_request_duration_seconds_count${render(e.labels)} ${e.count}`);
    }
    out.push("# HELP mcp_gateway_sessions Live client sessions.");
    out.push("# TYPE mcp_gateway_sessions gauge");
    out.push(`mcp_gateway_sessions ${this.#sessions}`);
    out.push("# HELP mcp_gateway_scoped_sessions Sessions whose tool list select_tools scoped.");
    out.push("# TYPE mcp_gateway_scoped_sessions gauge");
    out.push(`mcp_gateway_scoped_sessions ${this.#scopedSessions}`);
    out.push(
      "# HELP mcp_gateway_relayed_messages_total Client answers and cancels relayed to the replica holding the call.",
    );
    out.push("# TYPE mcp_gateway_relayed_messages_total counter");
    for (const [kind, v] of this.#relayed) {
      out.push(`mcp_gateway_relayed_messages_total${render({ kind })} ${v}`);
    }
    out.push("# HELP mcp_gateway_rate_limited_total Requests a RateLimitPolicy limit answered with 429.");
    out.push("# TYPE mcp_gateway_rate_limited_total counter");
    for (const e of this.#rateLimited.values()) {
      out.push(`mcp_gateway_rate_limited_total${render(e.labels)} ${e.value}`);
    }
    out.push("# HELP mcp_gateway_upstream_up Whether an upstream passes its health pings.");
    out.push("# TYPE mcp_gateway_upstream_up gauge");
    for (const [server, v] of this.#upstreamUp) out.push(`mcp_gateway_upstream_up${render({ server })} ${v}`);
    return out.join("\n") + "\n";
  }
}
