// One `[[source]]` table on its own, as `ntp-ctl source add` sends it to the
// running daemon: checked by the same schema, feature gate and poll-limit
// checks as the sources of ntp.toml (it is parsed as an ntp.toml holding that
// table and the daemon's own [source-defaults]), so a source the daemon takes
// at run time is one it would have taken from its file.
import { parse, TomlError } from "smol-toml";
import { formatDiagnostic } from "./diagnostics.js";
import { parseConfig, type ParseOptions } from "./parse.js";
import { isTable } from "./toml-value.js";
import type { SourceConfig, SourceDefaultsConfig } from "./types.js";

/** Far more than one source table needs. */
export const MAX_SOURCE_TABLE_BYTES = 4096;

export type SingleSourceResult =
  { ok: true; source: SourceConfig } | { ok: false; errors: string[] };

/**
 * Parses `text`, which must hold exactly one `[[source]]` table and nothing
 * else; its poll settings left out come from `defaults`. Never throws.
 */
export function parseSourceTable(
  text: string,
  defaults: SourceDefaultsConfig,
  options: ParseOptions = {},
): SingleSourceResult {
  if (new TextEncoder().encode(text).length > MAX_SOURCE_TABLE_BYTES) {
    return { ok: false, errors: [`a source table is at most ${MAX_SOURCE_TABLE_BYTES} bytes`] };
  }
  const file = "<source>";
  let document;
  try {
    document = parse(text, { integersAsBigInt: true, maxDepth: 8 });
  } catch (e) {
    if (!(e instanceof TomlError)) throw e;
    // parseConfig words syntax errors best: let it.
    const result = parseConfig(text, file, options);
    return { ok: false, errors: result.ok ? [e.message] : result.errors.map(formatDiagnostic) };
  }
  const keys = Object.keys(document);
  const tables = document["source"];
  if (keys.length !== 1 || !Array.isArray(tables) || tables.length !== 1 || !isTable(tables[0])) {
    return { ok: false, errors: ["expected exactly one [[source]] table and nothing else"] };
  }
  const { min, max } = defaults.pollIntervalLimits;
  // Appended after the source: the diagnostics' line numbers stay those of `text`.
  const withDefaults =
    `${text}\n[source-defaults]\n` +
    `poll-interval-limits = { min = ${min}, max = ${max} }\n` +
    `initial-poll-interval = ${defaults.initialPollInterval}\n`;
  const result = parseConfig(withDefaults, file, options);
  if (!result.ok) return { ok: false, errors: result.errors.map(formatDiagnostic) };
  const source = result.config.sources[0];
  if (source === undefined) return { ok: false, errors: ["no [[source]] table"] };
  return { ok: true, source };
}
