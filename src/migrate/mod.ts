/**
 * Migration of article-era manifests to the current API.
 *
 * @module
 */

export { type Change, type MigrateResult, migrateText } from "./migrate.ts";
