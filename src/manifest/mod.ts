/**
 * Reading manifests with source positions.
 *
 * @module
 */

export { loadManifests, parseManifests } from "./load.ts";
export type {
  FieldPath,
  LoadOptions,
  ManifestDocument,
  ManifestProblem,
  Position,
  PositionOptions,
} from "./load.ts";
