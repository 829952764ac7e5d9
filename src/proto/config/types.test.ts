// The config types are derived from the schema's declarations (types.ts). The type assertions
// below are checked by `npm run typecheck`: they pin the shapes the rest of the code relies on
// where a derivation could go subtly wrong (finish() outputs, poll settings resolved from
// [source-defaults], literal unions), and show that a declaration whose default or type
// disagrees does not compile. The runtime test checks that parsed tables carry exactly the
// properties their declarations name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withDefault, optional } from "./fields.js";
import type { Expand } from "./fields.js";
import { parseConfig } from "./parse.js";
import { configSchema } from "./schema.js";
import { keysetTable, ntsKeServerTable, serverTable } from "./schema-server.js";
import { SOURCE_MODE_TABLES } from "./schema-sources.js";
import {
  algorithmTable,
  daemonTable,
  observabilityTable,
  sourceDefaultsTable,
  synchronizationTable,
} from "./schema-system.js";
import type {
  ClockConfig,
  Config,
  FilterAction,
  LogLevel,
  NetworkSourceCommon,
  NtpVersionSetting,
  NtsKeServerConfig,
  ServerConfig,
  ServerSourceConfig,
  SockSourceConfig,
  SocketAddress,
  SourceAddress,
  SynchronizationConfig,
  TimestampMode,
} from "./types.js";
import { bool, u8 } from "./value-types.js";

type Equal<A, B> =
  (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <T extends true>(): T | null => null;

same<Equal<NtsKeServerConfig["longlivedConnections"], number>>(); // finish() fills it in
same<Equal<SynchronizationConfig["accumulatedStepPanicThreshold"], number | null>>();
same<Equal<ServerConfig["requireNts"], false | FilterAction>>();
same<Equal<ServerConfig["acceptNtpVersions"], (3 | 4 | 5)[]>>();
same<Equal<LogLevel, "trace" | "debug" | "info" | "warn" | "error">>();
same<Equal<TimestampMode, "software" | "kernel-recv" | "kernel-all" | "hardware">>();
same<Equal<Config["clock"], ClockConfig | null>>();
same<Equal<Config["daemon"]["serverThreads"], number | "auto">>();
same<
  Equal<
    NetworkSourceCommon,
    {
      address: SourceAddress;
      pollIntervalLimits: { min: number; max: number };
      initialPollInterval: number;
      ntpVersion: NtpVersionSetting;
      interleaved: boolean;
    }
  >
>();
same<Equal<ServerSourceConfig, Expand<NetworkSourceCommon & { mode: "server" }>>>();
same<
  Equal<SockSourceConfig, { mode: "sock"; path: string; precision: number; accuracy: number }>
>();
same<Equal<Config["observability"]["metricsExporterListen"], SocketAddress>>();

test("a declaration whose default does not fit its type does not compile", () => {
  // @ts-expect-error a number is no default of a boolean key
  const wrongDefault = withDefault("warn-on-jump", bool, 1, "doc");
  // @ts-expect-error the value type decides the property type: u8 gives no string
  const wrongType: ReturnType<typeof optional<string>> = optional("local-stratum", u8, "doc");
  assert.equal(wrongDefault.key, "warn-on-jump");
  assert.equal(wrongType.presence, "optional");
});

test("every parsed table has exactly the properties its fields declare", () => {
  const r = parseConfig(
    `
[[source]]
mode = "server"
address = "192.0.2.1"
[[server]]
listen = "[::]:123"
[[nts-ke-server]]
listen = "[::]:4460"
certificate-chain-path = "/c.pem"
private-key-path = "/k.pem"
`,
    "ntp.toml",
  );
  assert.ok(r.ok, r.ok ? "" : r.errors.map((e) => e.message).join("\n"));
  const c = r.config;
  const same = (value: object, table: { fields: object }, name: string) =>
    assert.deepEqual(Object.keys(value).sort(), Object.keys(table.fields).sort(), name);
  same(c, configSchema, "config");
  same(c.sources[0]!, SOURCE_MODE_TABLES.server, "[[source]] server");
  same(c.sourceDefaults, sourceDefaultsTable, "[source-defaults]");
  same(c.servers[0]!, serverTable, "[[server]]");
  same(c.ntsKeServers[0]!, ntsKeServerTable, "[[nts-ke-server]]");
  same(c.keyset, keysetTable, "[keyset]");
  same(c.observability, observabilityTable, "[observability]");
  same(c.synchronization, synchronizationTable, "[synchronization]");
  same(c.synchronization.algorithm, algorithmTable, "[synchronization.algorithm]");
  same(c.daemon, daemonTable, "[daemon]");
});
