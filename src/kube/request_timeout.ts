/**
 * The default bound of one API server request, in a module of its own so `--help` shows it without
 * loading the kubeconfig reader.
 *
 * @module
 */

/**
 * How long a request, or an exec credential plugin, may take without `--request-timeout`. kubectl
 * waits forever (0); a verb that hangs on a silent API server until Ctrl-C helps nobody, and no
 * single non-watch request of ours legitimately takes this long.
 */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
