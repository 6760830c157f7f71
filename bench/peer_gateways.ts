/**
 * The processes the gateway suite compares the simulator with, built or installed once and cached under
 * `.cache/bench/` (gitignored): the Go ReverseProxy floor (`bench/peers/go_reverse_proxy`), ToolHive's
 * vMCP (`go install`) and mcp-hub (npm, run by Deno through `bench/peers/mcp_hub.ts`). They are
 * benchmark dependencies, not test dependencies: when a toolchain is missing the suite says why and
 * measures the rest.
 *
 * @module
 */

// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/sse"
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";
import { DENO, ROOT, runCommand, Server, sleep } from "./lib.ts";

/** Where built and installed peers are kept between runs. */
export const PEER_CACHE: string = `${ROOT}.cache/bench`;

/** The ToolHive release measured: later ones need modules the Go proxy here refuses. */
export const VMCP_VERSION = "v0.47.0";
/** The mcp-hub release measured. */
export const MCP_HUB_VERSION = "4.2.1";

/** A built or installed program, or why there is none. */
export type Built = { path: string } | { reason: string };

/** The first `name` found on PATH or in `extra` directories. */
async function which(name: string, extra: string[] = []): Promise<string | undefined> {
  for (const dir of [...(Deno.env.get("PATH") ?? "").split(":"), ...extra]) {
    if (!dir) continue;
    try {
      const info = await Deno.stat(`${dir}/${name}`);
      if (info.isFile) return `${dir}/${name}`;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Go, from PATH or /usr/local/go (a non-login shell may not have it on PATH), as test/cluster/build.sh finds it. */
const findGo = () => which("go", ["/usr/local/go/bin"]);

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The last lines of a command's error output, for a reason in the results. */
const tail = (text: string) => text.trim().split("\n").slice(-4).join(" / ").slice(0, 400);

/** Builds bench/peers/go_reverse_proxy into `dir` (the Go build cache makes repeat builds quick). */
export async function buildGoProxy(dir: string): Promise<Built> {
  const go = await findGo();
  if (!go) return { reason: "Go was not found on PATH or in /usr/local/go/bin" };
  const path = `${dir}/go-reverse-proxy`;
  const out = await runCommand(go, ["build", "-o", path, "."], {
    cwd: `${ROOT}bench/peers/go_reverse_proxy`,
    timeoutMs: 300_000,
  });
  if (out.code !== 0) return { reason: `go build failed (exit ${out.code}): ${tail(out.stderr)}` };
  return { path };
}

/**
 * `go install github.com/stacklok/toolhive/cmd/vmcp@VERSION` into the cache, once. When the module
 * proxy or the local toolchain refuses it, one retry with GOTOOLCHAIN=go1.27.4; both errors are kept.
 */
export async function installVmcp(): Promise<Built> {
  const dir = `${PEER_CACHE}/vmcp-${VMCP_VERSION}`;
  const path = `${dir}/vmcp`;
  if (await exists(path)) return { path };
  const go = await findGo();
  if (!go) return { reason: "Go was not found on PATH or in /usr/local/go/bin, so vmcp could not be built" };
  await Deno.mkdir(dir, { recursive: true });
  const errors: string[] = [];
  for (const toolchain of [undefined, "go1.27.4"]) {
    console.log(
      `Building ToolHive vmcp ${VMCP_VERSION} into ${dir}${
        toolchain ? ` with GOTOOLCHAIN=${toolchain}` : ""
      } ` +
        "(once; a few minutes)",
    );
    const out = await runCommand(go, ["install", `github.com/stacklok/toolhive/cmd/vmcp@${VMCP_VERSION}`], {
      cwd: dir,
      env: { GOBIN: dir, ...(toolchain ? { GOTOOLCHAIN: toolchain } : {}) },
      timeoutMs: 1_200_000,
    });
    if (out.code === 0 && await exists(path)) return { path };
    errors.push(
      `${toolchain ? `GOTOOLCHAIN=${toolchain}` : "go install"} (exit ${out.code}): ${tail(out.stderr)}`,
    );
  }
  return { reason: `vmcp could not be built: ${errors.join("; ")}` };
}

/** `npm install mcp-hub@VERSION` into the cache, once; the path of its `dist/cli.js`. */
export async function installMcpHub(): Promise<Built> {
  const dir = `${PEER_CACHE}/mcp-hub-${MCP_HUB_VERSION}`;
  const path = `${dir}/node_modules/mcp-hub/dist/cli.js`;
  if (await exists(path)) return { path };
  const npm = await which("npm");
  if (!npm) return { reason: "npm was not found on PATH, so mcp-hub could not be installed" };
  await Deno.mkdir(dir, { recursive: true });
  console.log(`Installing mcp-hub ${MCP_HUB_VERSION} into ${dir} (once)`);
  const out = await runCommand(npm, [
    "install",
    "--prefix",
    dir,
    "--no-audit",
    "--no-fund",
    "--no-save",
    `mcp-hub@${MCP_HUB_VERSION}`,
  ], { cwd: dir, timeoutMs: 300_000 });
  if (out.code !== 0 || !await exists(path)) {
    return {
      reason: `npm install mcp-hub@${MCP_HUB_VERSION} failed (exit ${out.code}): ${tail(out.stderr)}`,
    };
  }
  return { path };
}

/** A free loopback port, for programs that must be told one. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A started peer: its process and its MCP endpoint. */
export interface Started {
  server: Server;
  url: string;
}

/**
 * Starts vmcp in front of one Streamable HTTP backend named `slow` (its tools become `slow_NAME`), with
 * anonymous clients and no credentials towards the backend; resolves once it answers `initialize`.
 */
export async function startVmcp(binary: string, backend: string, dir: string): Promise<Started> {
  await Deno.mkdir(dir, { recursive: true });
  const config = `${dir}/vmcp.yaml`;
  // JSON is YAML: no YAML writer needed.
  await Deno.writeTextFile(
    config,
    JSON.stringify({
      name: "bench",
      groupRef: "bench",
      incomingAuth: { type: "anonymous" },
      outgoingAuth: { source: "inline", default: { type: "unauthenticated" } },
      aggregation: {
        conflictResolution: "prefix",
        conflictResolutionConfig: { prefixFormat: "{workload}_" },
      },
      backends: [{ name: "slow", url: backend, transport: "streamable-http" }],
    }),
  );
  const port = freePort();
  const server = new Server("vmcp", binary, [
    "serve",
    "--config",
    config,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
  ], dir);
  const url = `http://127.0.0.1:${port}/mcp`;
  try {
    await untilInitializes(server, url, 60_000);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return { server, url };
}

/** Polls `url` with `initialize` until it answers 200 (bounded by `timeoutMs`). */
async function untilInitializes(server: Server, url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    if (server.exited) throw new Error(`${server.name} exited: ${server.stderr.trim().slice(-600)}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { accept: "application/json, text/event-stream", "content-type": "application/json" },
        body: JSON.stringify({
          jsonrpc: "2.0",
          id: 1,
          method: "initialize",
          params: {
            protocolVersion: "2025-06-18",
            capabilities: {},
            clientInfo: { name: "probe", version: "1" },
          },
        }),
      });
      await res.body?.cancel();
      if (res.status === 200) {
        const sid = res.headers.get("mcp-session-id");
        if (sid) {
          await fetch(url, { method: "DELETE", headers: { "mcp-session-id": sid } }).then((r) =>
            r.body?.cancel()
          )
            .catch(() => {});
        }
        return;
      }
      last = `initialize answered ${res.status}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await sleep(100);
  }
  throw new Error(
    `${server.name} did not answer initialize at ${url} within ${timeoutMs} ms (${last}): ${
      server.stderr.trim().slice(-600)
    }`,
  );
}

/**
 * Starts mcp-hub (its `dist/cli.js`, run by Deno with GC on request) in front of one Streamable HTTP
 * backend named `slow` (its tools become `slow__NAME`), its folders in `dir`.
 */
export async function startMcpHub(cli: string, backend: string, dir: string): Promise<Started> {
  await Deno.mkdir(dir, { recursive: true });
  const server = new Server("mcp-hub", DENO, [
    "run",
    "-A",
    "--v8-flags=--expose-gc",
    "bench/peers/mcp_hub.ts",
    cli,
    backend,
    dir,
  ]);
  try {
    const m = await server.waitFor(/^listening mcp-hub (\S+)$/, 90_000);
    return { server, url: m[1] };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

/** An MCP session over the older HTTP+SSE transport (GET stream + POSTed messages), as mcp-hub serves. */
export async function connectSse(url: string): Promise<Client> {
  const client = new Client({ name: "kubectl-mcp-bench", version: "1.0.0" }, { capabilities: {} });
  await client.connect(new SSEClientTransport(new URL(url)));
  return client;
}
