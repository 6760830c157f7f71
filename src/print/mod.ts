/**
 * Output shared by every verb: tables, JSON, YAML, names, ages and colour.
 *
 * @module
 */

export * from "./table.ts";
export * from "./age.ts";
export * from "./color.ts";
export * from "./objects.ts";
