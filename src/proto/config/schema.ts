// The whole ntp.toml: its top-level tables. Section schemas live in schema-*.ts.
import { list, optional, section, table, withDefault } from "./fields.js";
import { resolveSource, sourceType } from "./schema-sources.js";
import { keysetTable, ntsKeServerTable, serverTable } from "./schema-server.js";
import { ntsPoolKeServerTable } from "./schema-pool-front.js";
import { csptpServerTable, csptpTable } from "./schema-csptp.js";
import {
  clockTable,
  daemonTable,
  observabilityTable,
  sourceDefaultsTable,
  synchronizationTable,
} from "./schema-system.js";

function arrayOfTables(name: string) {
  return { tables: true, expected: `an array of tables ([[${name}]])` };
}

export const configSchema = table({
  doc: "ntp.toml, the ntpd-rs 1.9 configuration file.",
  fields: {
    sources: withDefault(
      "source",
      list(sourceType, arrayOfTables("source")),
      [],
      "Time sources; without any the daemon never changes the clock.",
      { displayName: "[[source]]" },
    ),
    sourceDefaults: section("source-defaults", sourceDefaultsTable, sourceDefaultsTable.doc, {
      displayName: "[source-defaults]",
    }),
    servers: withDefault(
      "server",
      list(serverTable, arrayOfTables("server")),
      [],
      serverTable.doc,
      { displayName: "[[server]]" },
    ),
    ntsKeServers: withDefault(
      "nts-ke-server",
      list(ntsKeServerTable, arrayOfTables("nts-ke-server")),
      [],
      ntsKeServerTable.doc,
      { displayName: "[[nts-ke-server]]" },
    ),
    ntsPoolKeServers: withDefault(
      "nts-pool-ke-server",
      list(ntsPoolKeServerTable, arrayOfTables("nts-pool-ke-server")),
      [],
      ntsPoolKeServerTable.doc,
      { displayName: "[[nts-pool-ke-server]]" },
    ),
    csptpServers: withDefault(
      "csptp-server",
      list(csptpServerTable, arrayOfTables("csptp-server")),
      [],
      csptpServerTable.doc,
      { displayName: "[[csptp-server]]" },
    ),
    csptp: section("csptp", csptpTable, csptpTable.doc, { displayName: "[csptp]" }),
    keyset: section("keyset", keysetTable, keysetTable.doc, { displayName: "[keyset]" }),
    observability: section("observability", observabilityTable, observabilityTable.doc, {
      displayName: "[observability]",
    }),
    synchronization: section("synchronization", synchronizationTable, synchronizationTable.doc, {
      displayName: "[synchronization]",
    }),
    clock: optional("clock", clockTable, clockTable.doc, { displayName: "[clock]" }),
    daemon: section("daemon", daemonTable, daemonTable.doc, { displayName: "[daemon]" }),
  },
  unknownKeyHint: (key) =>
    ["pool", "nts", "nts-pool", "sock", "pps"].includes(key)
      ? ` (write a [[source]] table with mode = "${key}")`
      : // ntpd-rs before 1.0, and guides written for it, say [[peer]] / [[peers]].
        key === "peer" || key === "peers"
        ? ` (did you mean "[[source]]"? "[[${key}]]" is its old name)`
        : undefined,
  finish: (raw) => ({
    ...raw,
    sources: raw.sources.map((s) => resolveSource(s, raw.sourceDefaults)),
  }),
});
