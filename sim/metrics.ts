/**
 * A small Prometheus registry: counters, gauges and histograms with labels, rendered in text
 * exposition format 0.0.4 for `/metrics`.
 *
 * @module
 */

type Labels = Record<string, string>;
const key = (labels: Labels) => JSON.stringify(Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)));
const render = (labels: Labels) => {
  const entries = Object.entries(labels);
  if (!entries.length) return "";
  const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
  return `{${entries.map(([k, v]) => `${k}="${esc(v)}"`).join(",")}}`;
};

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

  /** Counts one `/mcp` request by JSON-RPC method (or HTTP method) and HTTP status. */
  request(method: string, status: number): void {
    // On every request: a plain string key, not the sorted-labels one.
    const k = `${method}\0${status}`;
    const e = this.#requests.get(k);
    if (e) e.value++;
    else this.#requests.set(k, { labels: { method, status: String(status) }, value: 1 });
  }

  /** Counts a client's message relayed to the replica holding its call (`response` or `cancel`). */
  relayed(kind: string): void {
    this.#relayed.set(kind, (this.#relayed.get(kind) ?? 0) + 1);
  }

  /** Sets the number of sessions with a `select_tools` scope. */
  scopedSessions(count: number): void {
    this.#scopedSessions = count;
  }

  /** Records how long an upstream took to answer. */
  upstreamLatency(server: string, method: string, seconds: number): void {
    const labels = { server, method };
    const k = key(labels);
    const e = this.#latency.get(k) ?? { labels, counts: LATENCY_BUCKETS.map(() => 0), sum: 0, count: 0 };
    LATENCY_BUCKETS.forEach((b, i) => {
      if (seconds <= b) e.counts[i]++;
    });
    e.sum += seconds;
    e.count++;
    this.#latency.set(k, e);
  }

  /** Sets the health gauge of an upstream (1 healthy, 0 not). */
  upstreamHealth(server: string, up: boolean): void {
    this.#upstreamUp.set(server, up ? 1 : 0);
  }

  /** Forgets an upstream that left the config. */
  removeUpstream(server: string): void {
    this.#upstreamUp.delete(server);
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
    out.push("# HELP mcp_gateway_upstream_up Whether an upstream passes its health pings.");
    out.push("# TYPE mcp_gateway_upstream_up gauge");
    for (const [server, v] of this.#upstreamUp) out.push(`mcp_gateway_upstream_up${render({ server })} ${v}`);
    return out.join("\n") + "\n";
  }
}
