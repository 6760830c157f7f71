/**
 * Base64 as the gateway's JWT readers and Secret values need it. Each reader keeps its own rules on
 * top (what Go's decoder it mirrors accepts); the decoding itself is one piece.
 *
 * @module
 */

/** `text`'s UTF-8 bytes in base64, as a Secret's `data` holds them. */
export function base64(text: string): string {
  let binary = "";
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/**
 * The bytes of an unpadded base64url segment (a JWT part), undefined when it is not one: only the
 * URL alphabet, no padding, and no length that leaves a single character over.
 */
export function base64UrlBytes(segment: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(segment) || segment.length % 4 === 1) return undefined;
  const b64 = segment.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - b64.length % 4) % 4)), (c) => c.charCodeAt(0));
}
