/**
 * ANSI colour for findings and states. Callers decide once with `useColor(io)`; these helpers then
 * colour or pass text through.
 *
 * @module
 */

/** Text painters; identity functions when colour is off. */
export interface Palette {
  /** Errors, failed states. */
  red(text: string): string;
  /** Warnings, degraded states. */
  yellow(text: string): string;
  /** Success, healthy states. */
  green(text: string): string;
  /** Secondary detail. */
  dim(text: string): string;
  /** Emphasis. */
  bold(text: string): string;
}

const paint = (code: number, reset: number) => (text: string) => `\x1b[${code}m${text}\x1b[${reset}m`;

/** Returns a palette that colours when `enabled`, and leaves text alone otherwise. */
export function palette(enabled: boolean): Palette {
  if (!enabled) {
    const same = (text: string) => text;
    return { red: same, yellow: same, green: same, dim: same, bold: same };
  }
  return {
    red: paint(31, 39),
    yellow: paint(33, 39),
    green: paint(32, 39),
    dim: paint(2, 22),
    bold: paint(1, 22),
  };
}
