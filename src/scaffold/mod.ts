/**
 * Scaffolding: the objects `register`, `gateway init` and `virtual-server create` produce.
 *
 * @module
 */

export * from "./names.ts";
export * from "./register.ts";
export * from "./gateway.ts";
