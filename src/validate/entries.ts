/**
 * What the cross-object rules work on: the objects under validation (`Entry`), an index over them and
 * the live objects, and where findings go (`Sink`).
 *
 * @module
 */

import type { FieldPath, ManifestDocument } from "../manifest/load.ts";
import { GROUP } from "../model/crds.ts";
import type { LiveScope, Severity } from "./types.ts";

/** An object under validation with what the rules need to know about it. */
export interface Entry {
  /** The document it came from. */
  doc: ManifestDocument;
  /** Path prefix of the object inside its document (always empty: list items carry their own positions). */
  prefix: FieldPath;
  /** The object as written. */
  object: Record<string, unknown>;
  /** The object after API-server defaulting (MCP kinds), else the object as written. */
  defaulted: Record<string, unknown>;
  /** apiVersion as written. */
  apiVersion: string;
  /** API group (empty for core). */
  group: string;
  /** API version. */
  version: string;
  /** Kind. */
  kind: string;
  /** Namespace (the default namespace when unset). */
  namespace: string;
  /** Name. */
  name: string;
  /** False when schema checks failed. */
  valid: boolean;
}

/** Where findings go. */
export interface Sink {
  /** Adds a finding at `path` of `entry`. */
  add(
    entry: Entry,
    severity: Severity,
    code: string,
    message: string,
    path: FieldPath,
    extra?: { atKey?: boolean; hint?: string },
  ): void;
}

/** `value` when it is a string. */
export function str(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}

/** `Kind namespace/name` of an entry, as findings name objects. */
export function label(entry: Entry): string {
  return `${entry.kind} ${entry.namespace}/${entry.name}`;
}

/** Whether an entry came from the cluster rather than from the files. */
export function isLive(entry: Entry): boolean {
  return entry.doc.source === CLUSTER_SOURCE;
}

/** The `source` of entries made from live objects. */
export const CLUSTER_SOURCE = "<cluster>";

/**
 * The objects under validation (from the files) and the live ones read from the cluster, with the
 * parts of the cluster that were read completely.
 */
export class Index {
  /** `entries` from the files, `live` from the cluster, `listed` the scopes read completely. */
  constructor(
    readonly entries: Entry[],
    readonly live: Entry[],
    readonly listed: readonly LiveScope[] = [],
  ) {}

  /** Whether the cluster was read where this object would be: its absence from the index is a fact. */
  known(kind: string, group: string, namespace: string, name: string): boolean {
    return this.listed.some((scope) =>
      scope.kind === kind && scope.group === group &&
      (scope.namespace === undefined || scope.namespace === namespace) &&
      (scope.name === undefined || scope.name === name)
    );
  }

  /** Live objects of `kind`. */
  liveOfKind(kind: string, group?: string): Entry[] {
    return this.live.filter((e) => e.kind === kind && (group === undefined || e.group === group));
  }

  /** The object `namespace/name` of `kind`, from the files first, else from the cluster. */
  find(kind: string, namespace: string, name: string, group?: string): Entry | undefined {
    // By name, not a scan of every entry: rules look an object up per registration, route or
    // secret, which made a file of 1,000 objects a million comparisons.
    this.#files ??= byName(this.entries);
    this.#cluster ??= byName(this.live);
    const key = nameKey(kind, namespace, name);
    const match = (e: Entry) => group === undefined || e.group === group;
    return this.#files.get(key)?.find(match) ?? this.#cluster.get(key)?.find(match);
  }

  #files?: Map<string, Entry[]>;
  #cluster?: Map<string, Entry[]>;

  /** Objects of `kind` from the files. */
  ofKind(kind: string, group?: string): Entry[] {
    return this.entries.filter((e) => e.kind === kind && (group === undefined || e.group === group));
  }

  /** Objects of `kind` from the files and the cluster. */
  allOfKind(kind: string, group?: string): Entry[] {
    const match = (e: Entry) => e.kind === kind && (group === undefined || e.group === group);
    return [...this.entries.filter(match), ...this.live.filter(match)];
  }
}

function nameKey(kind: string, namespace: string, name: string): string {
  return `${kind}\0${namespace}\0${name}`;
}

/** Entries by kind, namespace and name, each list in the entries' order. */
function byName(entries: readonly Entry[]): Map<string, Entry[]> {
  const map = new Map<string, Entry[]>();
  for (const entry of entries) {
    const key = nameKey(entry.kind, entry.namespace, entry.name);
    const list = map.get(key);
    if (list) list.push(entry);
    else map.set(key, [entry]);
  }
  return map;
}

/** Whether `entry` is the MCP kind `kind`. */
export function isMcp(entry: Entry, kind: string): boolean {
  return entry.group === GROUP && entry.kind === kind;
}
