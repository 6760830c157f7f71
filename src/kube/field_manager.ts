/**
 * The field manager kubectl-mcp applies with, in a module of its own so the CLI's flag
 * declarations can name it without loading the API client.
 *
 * @module
 */

/** Field manager of server-side apply requests unless `--field-manager` says otherwise. */
export const DEFAULT_FIELD_MANAGER = "kubectl-mcp";
