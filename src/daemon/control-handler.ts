// What the control socket's requests do to the running daemon's sources:
// `source-add` checks the table as ntp.toml's [[source]] tables are checked
// and starts it through the same spawners; `source-remove` stops an entry,
// its tasks and their sockets; `source-list` shows every entry. Nothing here
// writes the configuration file (ntp-ctl does that, when asked with --save).

import type { SourceDefaultsConfig } from "../proto/config/types.js";
import { parseSourceTable } from "../proto/config/single-source.js";
import type { ControlReply, ControlRequest } from "./control-protocol.js";
import type { ControlStats } from "./control-server.js";
import type { Logger } from "./log.js";
import type { SourceRegistry } from "./source-registry.js";

export interface ControlHandlerOptions {
  registry: SourceRegistry;
  sourceDefaults: SourceDefaultsConfig;
  stats: () => ControlStats;
  log: Logger;
}

export function createControlHandler(options: ControlHandlerOptions) {
  const { registry, log } = options;
  return (request: ControlRequest): ControlReply => {
    switch (request.command) {
      case "source-list": {
        const s = options.stats();
        return {
          ok: true,
          sources: registry.entries.map((e) => registry.describe(e)),
          control: {
            requests: s.requests,
            malformed_requests: s.malformedRequests,
            refused_connections: s.refusedConnections,
          },
        };
      }
      case "source-add": {
        const parsed = parseSourceTable(request.source, options.sourceDefaults);
        if (!parsed.ok) return { ok: false, error: parsed.errors.join("\n") };
        const duplicate = registry.duplicateOf(parsed.source);
        if (duplicate) {
          const d = registry.describe(duplicate);
          return { ok: false, error: `a ${d.mode} source for ${d.address} exists already` };
        }
        let entry;
        try {
          entry = registry.add(parsed.source, "runtime");
        } catch (error) {
          return { ok: false, error: error instanceof Error ? error.message : String(error) };
        }
        entry.spawner.start();
        const added = registry.describe(entry);
        log.info("source added through the control socket", {
          mode: added.mode,
          address: added.address,
        });
        return { ok: true, added };
      }
      case "source-remove": {
        const entry = registry.find(request.source);
        if (typeof entry === "string") return { ok: false, error: entry };
        const removed = registry.describe(entry);
        registry.remove(entry);
        log.info("source removed through the control socket", {
          mode: removed.mode,
          address: removed.address,
          origin: removed.origin,
        });
        return { ok: true, removed };
      }
    }
  };
}
