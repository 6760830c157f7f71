/**
 * The dev identity provider's error.
 *
 * @module
 */

import { KubectlMcpError } from "../errors.ts";

/**
 * The dev identity provider refused a request (an unknown user, a bad mint request), or could not
 * be reached or found (`kubectl mcp token` against a gateway without `--dev-idp`).
 */
export class IdpError extends KubectlMcpError {
  override readonly code: string = "ERR_IDP";
}
