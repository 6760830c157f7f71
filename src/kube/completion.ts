/**
 * Shell completion values that come from the cluster: namespaces, and the names of server
 * registrations, virtual servers and gateway extensions in the namespace the command line selects.
 * Lookups use a short timeout so a slow or absent cluster never hangs the shell.
 *
 * @module
 */

import type { Candidate, CompletionProvider, CompletionSource } from "../cli/command.ts";
import { gatewayExtensionCrd, serverRegistrationCrd, VERSION, virtualServerCrd } from "../model/mod.ts";
import type { CrdDefinition } from "../model/mod.ts";
import { KubeClient } from "./client.ts";
import { configOptionsFromFlags } from "./resources.ts";

/** How long completion waits for the cluster, in milliseconds. */
export const COMPLETION_TIMEOUT_MS = 3000;

const CRD_BY_SOURCE: Partial<Record<CompletionSource, CrdDefinition>> = {
  "server": serverRegistrationCrd,
  "virtual-server": virtualServerCrd,
  "gateway-extension": gatewayExtensionCrd,
};

/** Namespaces, and the MCP objects in the namespace the command line selects, read from the cluster. */
export const clusterNames: CompletionProvider = async (source, { flags, io }) => {
  if (source !== "namespace" && !CRD_BY_SOURCE[source]) return [];
  // An explicit --request-timeout wins; otherwise keep the shell responsive.
  const options = configOptionsFromFlags(flags, io);
  if (!flags.given("request-timeout")) options.requestTimeout = `${COMPLETION_TIMEOUT_MS}ms`;
  using client = KubeClient.fromOptions(options);
  if (source === "namespace") {
    const info = await client.resourceFor("v1", "Namespace");
    const list = await client.list(info, {});
    return list.items.map((item): Candidate => ({ value: item.metadata?.name ?? "" })).filter((c) => c.value);
  }
  const crd = CRD_BY_SOURCE[source]!;
  const info = await client.resourceFor(`${crd.group}/${VERSION}`, crd.kind);
  const allNamespaces = flags.boolean("all-namespaces");
  const list = await client.list(info, { namespace: allNamespaces ? null : undefined });
  return list.items.map((item): Candidate => {
    const { name = "", namespace = "" } = item.metadata ?? {};
    // Virtual servers are selected as namespace/name, the form the gateway header takes.
    return { value: source === "virtual-server" ? `${namespace}/${name}` : name, description: namespace };
  }).filter((c) => c.value);
};
