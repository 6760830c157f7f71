/**
 * `kubectl mcp get servers|virtual-servers|gateways [NAME...]`: list MCP gateway objects with the
 * CRDs' printer columns, as `kubectl get` shows them, or as YAML, JSON or names; `--watch` streams
 * changes.
 *
 * @module
 */

import type { Command, FlagSpec } from "./command.ts";
import { ALL_NAMESPACES_FLAG, KUBE_FLAGS, NO_HEADERS_FLAG, outputFlag } from "./flags.ts";
import { printable, SHOW_MANAGED_FIELDS_FLAG } from "./apply.ts";
import type { Io } from "./io.ts";
import { formatError, UsageError } from "../errors.ts";
import { KubeClient, type KubeObject } from "../kube/client.ts";
import {
  configOptionsFromFlags,
  type McpResourceType,
  RESOURCE_TYPE_WORDS,
  resourceTypeArg,
  tableColumns,
} from "../kube/resources.ts";
import { listAndWatch } from "../kube/watch.ts";
import { VERSION } from "../model/mod.ts";
import { formatJson, formatName, formatTable, formatYaml } from "../print/mod.ts";

const WATCH_FLAG: FlagSpec = {
  name: "watch",
  short: "w",
  type: "boolean",
  description: "After listing the requested objects, watch for changes.",
};

const SELECTOR_FLAG: FlagSpec = {
  name: "selector",
  short: "l",
  type: "string",
  description: "Selector (label query) to filter on, e.g. -l app=github.",
};

/** The `get` verb. */
export const getCommand: Command = {
  name: "get",
  summary: "List MCP server registrations, virtual servers or gateway extensions in the cluster",
  description:
    "List MCP gateway objects with the columns kubectl shows for them. TYPE is servers (mcpsr), virtual-servers (mcpvs) or gateways (mcpge).",
  usage: "get TYPE [NAME...] [-n NAMESPACE | -A] [-o wide|yaml|json|name] [--watch] [--no-headers]",
  examples: [
    { comment: "List server registrations in the current namespace", command: "kubectl mcp get servers" },
    { comment: "List virtual servers in every namespace", command: "kubectl mcp get mcpvs -A" },
    { comment: "Show one registration as YAML", command: "kubectl mcp get server github -o yaml" },
  ],
  args: [{ name: "TYPE", values: RESOURCE_TYPE_WORDS }, { name: "NAME", complete: "server" }],
  flags: [
    ...KUBE_FLAGS,
    ALL_NAMESPACES_FLAG,
    outputFlag(["wide", "yaml", "json", "name"]),
    NO_HEADERS_FLAG,
    WATCH_FLAG,
    SELECTOR_FLAG,
    SHOW_MANAGED_FIELDS_FLAG,
  ],
  async run({ io, flags, args }) {
    const { type, names } = resourceTypeArg(args, "get");
    const allNamespaces = flags.boolean("all-namespaces");
    if (allNamespaces && names.length) {
      throw new UsageError("a resource cannot be retrieved by name across all namespaces");
    }
    using client = KubeClient.fromOptions(configOptionsFromFlags(flags, io));
    const resource = await client.resourceFor(`${type.crd.group}/${VERSION}`, type.crd.kind);
    const printer = new ObjectPrinter(io, type, {
      output: flags.string("output"),
      noHeaders: flags.boolean("no-headers"),
      allNamespaces,
      showManagedFields: flags.boolean("show-managed-fields"),
    });
    const namespace = allNamespaces ? null : client.namespace;

    if (flags.boolean("watch")) {
      if (names.length > 1) {
        throw new UsageError("you may only specify a single resource type and name with --watch");
      }
      let initial = true;
      const pending: KubeObject[] = [];
      // The initial list arrives as ADDED events; print it as one table, then one row per change.
      const flushInitial = () => {
        if (!initial) return;
        initial = false;
        if (pending.length === 0) io.err(noResources(client.namespace, allNamespaces));
        else printer.print(pending, { list: true });
      };
      const events = listAndWatch(client, resource, {
        namespace,
        labelSelector: flags.string("selector"),
        fieldSelector: names.length ? `metadata.name=${names[0]}` : undefined,
        signal: io.signal,
        onSynced: () => flushInitial(),
      });
      try {
        for await (const event of events) {
          if (initial && event.type === "ADDED") {
            pending.push(event.object);
            continue;
          }
          flushInitial();
          printer.print([event.object], { list: false, event: event.type });
        }
      } finally {
        if (!io.signal.aborted) flushInitial();
      }
      return;
    }

    if (names.length) {
      const found: KubeObject[] = [];
      const failures: unknown[] = [];
      for (const name of names) {
        try {
          found.push(await client.get(resource, name, { namespace: client.namespace, signal: io.signal }));
        } catch (error) {
          failures.push(error);
        }
      }
      if (found.length) printer.print(found, { list: names.length > 1 });
      if (failures.length === 1 && found.length === 0) throw failures[0];
      if (failures.length) {
        for (const failure of failures.slice(0, -1)) io.err(formatError(failure) + "\n");
        throw failures.at(-1);
      }
      return;
    }

    const list = await client.list(resource, {
      namespace,
      labelSelector: flags.string("selector"),
      signal: io.signal,
    });
    if (list.items.length === 0) {
      if (printer.output === "json" || printer.output === "yaml") printer.print([], { list: true });
      io.err(noResources(client.namespace, allNamespaces));
      return;
    }
    printer.print(list.items, { list: true });
  },
};

function noResources(namespace: string, allNamespaces: boolean): string {
  return allNamespaces ? "No resources found\n" : `No resources found in ${namespace} namespace.\n`;
}

/** Prints objects in the format `-o` asked for; tables get headers only the first time. */
class ObjectPrinter {
  readonly output?: string;
  #io: Io;
  #type: McpResourceType;
  #options: { noHeaders: boolean; allNamespaces: boolean; showManagedFields: boolean };
  #headersPrinted = false;

  constructor(
    io: Io,
    type: McpResourceType,
    options: { output?: string; noHeaders: boolean; allNamespaces: boolean; showManagedFields: boolean },
  ) {
    this.#io = io;
    this.#type = type;
    this.output = options.output;
    this.#options = options;
  }

  print(objects: KubeObject[], options: { list: boolean; event?: string }): void {
    const shown = objects.map((object) => printable(object, this.#options.showManagedFields));
    switch (this.output) {
      case "json":
        this.#io.out(formatJson(shown, { list: options.list && !options.event }));
        return;
      case "yaml":
        if (options.event) this.#io.out("---\n");
        this.#io.out(formatYaml(shown, { list: options.list && !options.event }));
        return;
      case "name":
        for (const object of shown) this.#io.out(formatName(object) + "\n");
        return;
    }
    const columns = tableColumns(this.#type.crd, { allNamespaces: this.#options.allNamespaces });
    const noHeaders = this.#options.noHeaders || this.#headersPrinted;
    this.#headersPrinted = true;
    this.#io.out(formatTable(columns, shown, { wide: this.output === "wide", noHeaders }));
  }
}
