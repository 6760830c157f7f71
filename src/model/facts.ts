/**
 * Flattens a CustomResourceDefinition into sorted one-line facts (every schema keyword except
 * descriptions, names, versions, printer columns), so two CRDs can be compared fact by fact.
 *
 * @module
 */

/** The facts of a CRD object as sorted lines like `v1 .spec.prefix pattern=^[a-z0-9][a-z0-9_]*$`. */
export function crdFacts(crd: Record<string, unknown>): string[] {
  const lines: string[] = [];
  // deno-lint-ignore no-explicit-any
  const spec = crd.spec as any;
  const name = spec.names.kind;
  lines.push(`${name} group=${spec.group} scope=${spec.scope} plural=${spec.names.plural}`);
  lines.push(`${name} singular=${spec.names.singular} listKind=${spec.names.listKind}`);
  lines.push(`${name} shortNames=${JSON.stringify(spec.names.shortNames ?? [])}`);
  for (const version of spec.versions) {
    const v = `${name} ${version.name}`;
    lines.push(
      `${v} served=${version.served} storage=${version.storage} deprecated=${version.deprecated ?? false}`,
    );
    if (version.deprecationWarning) lines.push(`${v} deprecationWarning=${version.deprecationWarning}`);
    lines.push(`${v} subresources=${JSON.stringify(version.subresources ?? {})}`);
    for (const column of version.additionalPrinterColumns ?? []) {
      lines.push(`${v} column ${column.name} type=${column.type} jsonPath=${column.jsonPath}`);
    }
    walk(version.schema.openAPIV3Schema, `${v} `, lines);
  }
  return lines.sort();
}

function walk(node: Record<string, unknown>, path: string, lines: string[]): void {
  for (const [key, value] of Object.entries(node)) {
    if (key === "description") continue;
    if (key === "properties") {
      for (const [prop, child] of Object.entries(value as Record<string, Record<string, unknown>>)) {
        walk(child, `${path}.${prop}`, lines);
      }
    } else if (key === "items") {
      walk(value as Record<string, unknown>, `${path}[]`, lines);
    } else {
      lines.push(`${path || "."} ${key}=${JSON.stringify(value)}`);
    }
  }
}
