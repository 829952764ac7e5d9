// The ntp.toml configuration: schema (each key's type, default and doc), validation. See parse.ts
// for the entry point; defaultConfig() is the configuration of an empty file.
export { parseConfig, defaultConfig } from "./parse.js";
export type { ParseOptions } from "./parse.js";
export { formatDiagnostic } from "./diagnostics.js";
export type { ConfigDiagnostic, ConfigResult } from "./diagnostics.js";
export { NTP_DEFAULT_PORT, NTS_KE_DEFAULT_PORT, CSPTP_DEFAULT_PORT } from "./schema-sources.js";
export { formatSocketAddress, formatSourceAddress } from "./addresses.js";
export { referenceIdToNumber } from "./value-types.js";
export { sourceCount } from "./semantic.js";
export { configSchema } from "./schema.js";
export { UNIMPLEMENTED } from "./unimplemented.js";
export type { UnimplementedFeature } from "./unimplemented.js";
export type * from "./types.js";
