/**
 * The replay behind `kubectl mcp simulate` and `kubectl mcp tools`: the simulator gateway fed from
 * files, a cluster, or files laid over a cluster.
 *
 * @module
 */

export * from "./state.ts";
export * from "./resolve.ts";
export * from "./replay.ts";
export * from "./files.ts";
export * from "./summary.ts";
export * from "./broker_flags.ts";
export * from "./auth.ts";
export * from "./auth_replay.ts";
