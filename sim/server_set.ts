/**
 * The registered servers as the gateway federates them: one `Upstream` per enabled registration, the
 * catalog built from their listings, the gateway's meta-tools, and the config they came from. It
 * decides what every client lists; sessions hear of changes through `onListsChanged`.
 *
 * Name conflicts are decided as the cluster's broker decides them: the server whose list arrived
 * first keeps its names. Each upstream's arrival is when it first became ready with a listing; it
 * is kept while the upstream stays ready, so re-listing or another server's change never flips the
 * winner, and is forgotten when the upstream goes unhealthy or is replaced (as the broker, which
 * registers the other server's tools meanwhile). The cluster's order is a race; ours is the order
 * the servers answered this process.
 *
 * @module
 */
// @ts-types="@modelcontextprotocol/sdk/types"
import type { ListResourcesResult, Tool } from "@modelcontextprotocol/sdk/types.js";
import type { GatewayConfig, ServerConfig, VirtualServerConfig } from "./config.ts";
import { BROKER_SERVER, metaTools } from "./discovery.ts";
import { buildCatalog, type Catalog, serverKeys, type ServerListing } from "./federation.ts";
import type { Metrics } from "./metrics.ts";
import type { Logger } from "./options.ts";
import { Upstream } from "./upstream.ts";

/** Which lists changed in a rebuild. */
export interface ListsChanged {
  tools: boolean;
  prompts: boolean;
  resources: boolean;
}

/** Options of a `ServerSet`. */
export interface ServerSetOptions {
  /** Timeout of the discovery side's requests to a server. */
  timeoutMs: number;
  /** Serve what the cluster's broker does not (see `GatewayOptions.federateAll`). */
  federateAll?: boolean;
  /** Open the backends' standalone GET streams (see `GatewayOptions.followBackends`). */
  followBackends?: boolean;
  /** List only the backends' tools (see `GatewayOptions.toolsOnly`). */
  toolsOnly?: boolean;
  /** Per-server health and latency. */
  metrics: Metrics;
  /** Diagnostics. */
  log: Logger;
  /** Lists changed: tell every client. */
  onListsChanged(changed: ListsChanged): void;
  /** A server left or changed: its backend sessions must go. */
  onServerDropped(name: string): Promise<void>;
}

/** The federation of the configured servers. */
export class ServerSet {
  #config: GatewayConfig;
  #opts: ServerSetOptions;
  #upstreams = new Map<string, Upstream>();
  #catalog: Catalog;
  #keys = new Map<string, string>();
  #serverByKey = new Map<string, string>();
  #fingerprints = { tools: "", prompts: "", resources: "" };
  #meta: Tool[] = [];
  #metaNames: ReadonlySet<string> = new Set();
  /** Server name -> its arrival number while ready (see the module doc). */
  #arrivals = new Map<string, number>();
  #arrived = 0;

  /** A set for `config`; nothing connects until `start`. */
  constructor(config: GatewayConfig, opts: ServerSetOptions) {
    this.#config = config;
    this.#opts = opts;
    this.#catalog = buildCatalog([], new Map(), config.extension.invalidToolPolicy);
    this.#setMeta(config);
  }

  /** The current config. */
  get config(): GatewayConfig {
    return this.#config;
  }

  /** The current federated catalog. */
  get catalog(): Catalog {
    return this.#catalog;
  }

  /** Whether the set serves what the cluster's broker does not (`GatewayOptions.federateAll`). */
  get federateAll(): boolean {
    return this.#opts.federateAll ?? false;
  }

  /**
   * The `resources/list` result: the catalog's resources and, by default, the two cache fields the
   * broker v0.9.0 adds before them (`ttlMs: 0`, `cacheScope: "public"`), which SDK clients ignore.
   */
  resourcesList(): ListResourcesResult {
    const resources = this.#catalog.resources;
    return this.#opts.federateAll ? { resources } : { ttlMs: 0, cacheScope: "public", resources };
  }

  /**
   * Servers in the order their lists arrived (see the module doc): the first keeps a clashing name.
   * Servers not ready are left out.
   */
  arrivalOrder(): string[] {
    return [...this.#arrivals].sort((a, b) => a[1] - b[1]).map(([name]) => name);
  }

  /** Resource URI key -> server name; empty by default, where no URI carries a key (see `key`). */
  get serverByKey(): Map<string, string> {
    return this.#serverByKey;
  }

  /** The meta-tools served now (discovery, tags). */
  get metaTools(): readonly Tool[] {
    return this.#meta;
  }

  /** Names of the meta-tools served now. */
  get metaNames(): ReadonlySet<string> {
    return this.#metaNames;
  }

  /** The discovery-side connection of server `name`, when configured. */
  upstream(name: string): Upstream | undefined {
    return this.#upstreams.get(name);
  }

  /**
   * The resource URI key of server `name` with `federateAll`; undefined by default, where the gateway
   * rewrites no URI in results and notifications (the cluster's broker does not).
   */
  key(name: string): string | undefined {
    return this.#opts.federateAll ? this.#keys.get(name) : undefined;
  }

  /** The virtual server `name` (`ns/name`), when it exists. */
  virtualServer(name: string): VirtualServerConfig | undefined {
    return this.#config.virtualServers.find((v) => v.name === name);
  }

  /** Enabled servers that have not yet answered their first discovery round. */
  pending(): string[] {
    // From the config: before `start` (or a reload) creates a server's upstream, it has not answered either.
    return this.#config.servers.filter((s) => s.enabled && !this.#upstreams.get(s.name)?.rounds).map((s) =>
      s.name
    );
  }

  /** Connects to every enabled server (first attempt awaited) and builds the catalog. */
  start(): Promise<void> {
    return this.#apply(this.#config.servers);
  }

  /**
   * Swaps the config: new servers appear, removed ones leave, changed ones reconnect; the catalog is
   * rebuilt and clients are told what changed.
   */
  async reload(config: GatewayConfig): Promise<void> {
    const interval = (c: GatewayConfig) =>
      c.extension.backendPingIntervalMs ?? c.extension.backendPingIntervalSeconds;
    const intervalChanged = interval(config) !== interval(this.#config);
    const policyChanged = config.extension.invalidToolPolicy !== this.#config.extension.invalidToolPolicy;
    this.#config = config;
    const metaChanged = this.#setMeta(config);
    await this.#apply(config.servers, intervalChanged);
    if (policyChanged || metaChanged) this.#rebuild();
  }

  /** Closes every upstream. */
  async close(): Promise<void> {
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
    this.#upstreams.clear();
  }

  /** Recomputes the meta-tools for `config`; true when their names changed. */
  #setMeta(config: GatewayConfig): boolean {
    const before = [...this.#metaNames].join();
    this.#meta = metaTools(config.servers, config.extension.discoveryTools);
    this.#metaNames = new Set(this.#meta.map((t) => t.name));
    return [...this.#metaNames].join() !== before;
  }

  #pingIntervalMs(): number {
    const e = this.#config.extension;
    return e.backendPingIntervalMs ?? e.backendPingIntervalSeconds * 1000;
  }

  #newUpstream(s: ServerConfig): Upstream {
    const { metrics, log } = this.#opts;
    const up = new Upstream(s, {
      pingIntervalMs: this.#pingIntervalMs(),
      timeoutMs: this.#opts.timeoutMs,
      listTemplates: this.#opts.federateAll,
      standaloneStream: this.#opts.followBackends,
      toolsOnly: this.#opts.toolsOnly,
      maxBytes: this.#config.extension.maxBodyBytes,
      onChange: () => {
        metrics.upstreamHealth(s.name, up.state === "ready");
        if (this.#upstreams.get(s.name) === up) {
          if (up.state !== "ready" || !up.listing) this.#arrivals.delete(s.name);
          else if (!this.#arrivals.has(s.name)) this.#arrivals.set(s.name, ++this.#arrived);
        }
        this.#rebuild();
      },
      onLatency: (method, seconds) => metrics.upstreamLatency(s.name, method, seconds),
      log: (level, msg) => log(level, msg, { server: s.name }),
    });
    return up;
  }

  /** Starts, stops or restarts upstreams so they match `servers`. */
  async #apply(servers: ServerConfig[], restartAll = false): Promise<void> {
    const wanted = new Map(servers.map((s) => [s.name, s]));
    const stopping: Promise<void>[] = [];
    for (const [name, up] of this.#upstreams) {
      const next = wanted.get(name);
      if (!next || restartAll || JSON.stringify(next) !== JSON.stringify(up.config)) {
        this.#upstreams.delete(name);
        this.#arrivals.delete(name);
        this.#opts.metrics.removeUpstream(name);
        stopping.push(up.close());
        stopping.push(this.#opts.onServerDropped(name));
      }
    }
    await Promise.all(stopping);
    const starting: Promise<void>[] = [];
    // Config order in the map, for everything but conflicts (decided by arrival, see `#rebuild`).
    const ordered = new Map<string, Upstream>();
    for (const s of servers) {
      let up = this.#upstreams.get(s.name);
      if (!up) {
        up = this.#newUpstream(s);
        this.#opts.metrics.upstreamHealth(s.name, false);
        starting.push(up.start());
      }
      ordered.set(s.name, up);
    }
    this.#upstreams = ordered;
    this.#keys = serverKeys(servers.map((s) => s.name));
    this.#serverByKey = this.#opts.federateAll ? new Map([...this.#keys].map(([n, k]) => [k, n])) : new Map();
    this.#rebuild();
    await Promise.all(starting);
  }

  /** Recomputes the catalog and tells every client what changed. */
  #rebuild(): void {
    const listings: ServerListing[] = [];
    for (const name of this.arrivalOrder()) {
      const up = this.#upstreams.get(name);
      if (up?.state === "ready" && up.listing) listings.push(up.listing);
    }
    this.#catalog = buildCatalog(
      listings,
      this.#keys,
      this.#config.extension.invalidToolPolicy,
      new Map([...this.#metaNames].map((name) => [name, BROKER_SERVER])),
      { federateAll: this.#opts.federateAll },
    );
    // userSpecificList servers' tools are known per client only: their calls route by prefix.
    this.#catalog.prefixRoutes = this.#config.servers
      .filter((server) => server.enabled && server.userSpecificList && server.prefix)
      .map((server) => ({ prefix: server.prefix, server: server.name }))
      .sort((a, b) => b.prefix.length - a.prefix.length);
    for (const c of this.#catalog.conflicts) {
      const { message, ...fields } = c;
      this.#opts.log("error", message, fields);
    }
    const fp = {
      // Discovery settings too: a new threshold changes what unscoped sessions list.
      tools: JSON.stringify([
        [...this.#catalog.tools.values()].map((t) => t.tool),
        this.#meta,
        this.#config.extension.discoveryTools,
        this.#config.extension.discoveryToolThreshold,
      ]),
      prompts: JSON.stringify([...this.#catalog.prompts.values()].map((p) => p.prompt)),
      resources: JSON.stringify([this.#catalog.resources, this.#catalog.resourceTemplates]),
    };
    const changed = {
      tools: fp.tools !== this.#fingerprints.tools,
      prompts: fp.prompts !== this.#fingerprints.prompts,
      resources: fp.resources !== this.#fingerprints.resources,
    };
    this.#fingerprints = fp;
    if (changed.tools || changed.prompts || changed.resources) this.#opts.onListsChanged(changed);
  }
}
